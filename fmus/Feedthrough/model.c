/*
 * Feedthrough - one input and one output per variable type; every output
 * equals its input at all times (direct feedthrough). Strings and binaries
 * are copied into instance-owned memory. The FMI 2 FMU has the Float64,
 * Int32, Boolean, String and Enumeration pairs; the FMI 3 FMU adds Float32,
 * the other integer types, Binary and a Float64 array of 3 elements.
 */
#include "fmu_model.h"

#include <string.h>

typedef struct {
    float f32_c_in, f32_c_out, f32_d_in, f32_d_out;     /* vrs 1-4 (FMI 3) */
    double f64_fixed, f64_tunable;                      /* vrs 5, 6 */
    double f64_c_in, f64_c_out, f64_d_in, f64_d_out;    /* vrs 7-10 */
    int8_t i8_in, i8_out;                               /* vrs 11, 12 (FMI 3) */
    uint8_t u8_in, u8_out;                              /* vrs 13, 14 (FMI 3) */
    int16_t i16_in, i16_out;                            /* vrs 15, 16 (FMI 3) */
    uint16_t u16_in, u16_out;                           /* vrs 17, 18 (FMI 3) */
    int32_t i32_in, i32_out;                            /* vrs 19, 20 */
    uint32_t u32_in, u32_out;                           /* vrs 21, 22 (FMI 3) */
    int64_t i64_in, i64_out;                            /* vrs 23, 24 (FMI 3) */
    uint64_t u64_in, u64_out;                           /* vrs 25, 26 (FMI 3) */
    bool b_in, b_out;                                   /* vrs 27, 28 */
    char *s_in, *s_out;                                 /* vrs 29, 30 */
    fmu_bytes bin_in, bin_out;                          /* vrs 31, 32 (FMI 3) */
    int64_t e_in, e_out;                                /* vrs 33, 34 */
    double arr_in[3], arr_out[3];                       /* vrs 35, 36 (FMI 3) */
} feedthrough;

#define S feedthrough
static const fmu_var vars[] = {
    FMU_VAR_TIME(0),
    FMU_VAR3(S, f32_c_in, 1, "Float32_continuous_input", FMU_F32, FMU_SET_INPUT),
    FMU_VAR3(S, f32_c_out, 2, "Float32_continuous_output", FMU_F32, FMU_SET_NEVER),
    FMU_VAR3(S, f32_d_in, 3, "Float32_discrete_input", FMU_F32, FMU_SET_INPUT),
    FMU_VAR3(S, f32_d_out, 4, "Float32_discrete_output", FMU_F32, FMU_SET_NEVER),
    FMU_VAR(S, f64_fixed, 5, "Float64_fixed_parameter", FMU_F64, FMU_SET_INIT),
    FMU_VAR(S, f64_tunable, 6, "Float64_tunable_parameter", FMU_F64, FMU_SET_TUNABLE),
    FMU_VAR(S, f64_c_in, 7, "Float64_continuous_input", FMU_F64, FMU_SET_INPUT),
    FMU_VAR(S, f64_c_out, 8, "Float64_continuous_output", FMU_F64, FMU_SET_NEVER),
    FMU_VAR(S, f64_d_in, 9, "Float64_discrete_input", FMU_F64, FMU_SET_INPUT),
    FMU_VAR(S, f64_d_out, 10, "Float64_discrete_output", FMU_F64, FMU_SET_NEVER),
    FMU_VAR3(S, i8_in, 11, "Int8_input", FMU_I8, FMU_SET_INPUT),
    FMU_VAR3(S, i8_out, 12, "Int8_output", FMU_I8, FMU_SET_NEVER),
    FMU_VAR3(S, u8_in, 13, "UInt8_input", FMU_U8, FMU_SET_INPUT),
    FMU_VAR3(S, u8_out, 14, "UInt8_output", FMU_U8, FMU_SET_NEVER),
    FMU_VAR3(S, i16_in, 15, "Int16_input", FMU_I16, FMU_SET_INPUT),
    FMU_VAR3(S, i16_out, 16, "Int16_output", FMU_I16, FMU_SET_NEVER),
    FMU_VAR3(S, u16_in, 17, "UInt16_input", FMU_U16, FMU_SET_INPUT),
    FMU_VAR3(S, u16_out, 18, "UInt16_output", FMU_U16, FMU_SET_NEVER),
    FMU_VAR(S, i32_in, 19, "Int32_input", FMU_I32, FMU_SET_INPUT),
    FMU_VAR(S, i32_out, 20, "Int32_output", FMU_I32, FMU_SET_NEVER),
    FMU_VAR3(S, u32_in, 21, "UInt32_input", FMU_U32, FMU_SET_INPUT),
    FMU_VAR3(S, u32_out, 22, "UInt32_output", FMU_U32, FMU_SET_NEVER),
    FMU_VAR3(S, i64_in, 23, "Int64_input", FMU_I64, FMU_SET_INPUT),
    FMU_VAR3(S, i64_out, 24, "Int64_output", FMU_I64, FMU_SET_NEVER),
    FMU_VAR3(S, u64_in, 25, "UInt64_input", FMU_U64, FMU_SET_INPUT),
    FMU_VAR3(S, u64_out, 26, "UInt64_output", FMU_U64, FMU_SET_NEVER),
    FMU_VAR(S, b_in, 27, "Boolean_input", FMU_BOOL, FMU_SET_INPUT),
    FMU_VAR(S, b_out, 28, "Boolean_output", FMU_BOOL, FMU_SET_NEVER),
    FMU_VAR(S, s_in, 29, "String_input", FMU_STRING, FMU_SET_INPUT),
    FMU_VAR(S, s_out, 30, "String_output", FMU_STRING, FMU_SET_NEVER),
    FMU_VAR3(S, bin_in, 31, "Binary_input", FMU_BINARY, FMU_SET_INPUT),
    FMU_VAR3(S, bin_out, 32, "Binary_output", FMU_BINARY, FMU_SET_NEVER),
    FMU_VAR(S, e_in, 33, "Enumeration_input", FMU_ENUM, FMU_SET_INPUT),
    FMU_VAR(S, e_out, 34, "Enumeration_output", FMU_ENUM, FMU_SET_NEVER),
    FMU_VAR3_ARRAY(S, arr_in, 35, "Float64_array_input", FMU_F64, 3, FMU_SET_INPUT),
    FMU_VAR3_ARRAY(S, arr_out, 36, "Float64_array_output", FMU_F64, 3, FMU_SET_NEVER),
};
#undef S

static int start(fmu_instance *inst, void *data)
{
    feedthrough *m = data;
    static const uint8_t bin_start[] = { 0x66, 0x6f, 0x6f }; /* "foo" */

    m->e_in = 1;
    if (fmu_set_string(inst, &m->s_in, "") != 0)
        return -1;
    return fmu_set_binary(inst, &m->bin_in, bin_start, sizeof bin_start);
}

static int calculate(fmu_instance *inst, void *data)
{
    feedthrough *m = data;

    m->f32_c_out = m->f32_c_in;
    m->f32_d_out = m->f32_d_in;
    m->f64_c_out = m->f64_c_in;
    m->f64_d_out = m->f64_d_in;
    m->i8_out = m->i8_in;
    m->u8_out = m->u8_in;
    m->i16_out = m->i16_in;
    m->u16_out = m->u16_in;
    m->i32_out = m->i32_in;
    m->u32_out = m->u32_in;
    m->i64_out = m->i64_in;
    m->u64_out = m->u64_in;
    m->b_out = m->b_in;
    m->e_out = m->e_in;
    memcpy(m->arr_out, m->arr_in, sizeof m->arr_out);
    if (fmu_set_string(inst, &m->s_out, m->s_in) != 0)
        return -1;
    return fmu_set_binary(inst, &m->bin_out, m->bin_in.data, m->bin_in.size);
}

const fmu_model fmu_model_def = {
    .name = "Feedthrough",
    .token = "{3b2a6c1e-5d0f-4e8a-9c71-0d4a1f2e6b05}",
    .data_size = sizeof(feedthrough),
    .vars = vars,
    .n_vars = sizeof vars / sizeof vars[0],
    .start = start,
    .calculate = calculate,
};
