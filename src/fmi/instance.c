/*
 * instance.c - loading an FMU's shared library and driving one instance of
 * it through the FMI 2.0 or 3.0 C API (see instance.h for the contract).
 *
 * Every exported function of a standard is listed once in F2_FUNCTIONS /
 * F3_FUNCTIONS below with the interface that requires it; that list
 * generates the typed function-pointer tables, the dlsym() resolution and
 * the fmi_required_functions() arrays, so they cannot drift apart.
 *
 * The lifecycle of an instance is an explicit state (a bit in a mask, as in
 * the standard's state tables); each call states the states it is legal in
 * and is refused before reaching the FMU otherwise. What is not here: the
 * simulation loop (sim.c) and the validator's static checks (validate.c).
 */
#include "instance.h"

#include "fmi2_abi.h"
#include "fmi3_abi.h"
#include "util/error.h"
#include "util/fsutil.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

_Static_assert(sizeof(fmi2ValueReference) == sizeof(uint32_t), "fmi2ValueReference is 32 bits");
_Static_assert(sizeof(void *) == sizeof(void (*)(void)), "function and data pointers have one size");

/* --- the function tables --------------------------------------------- */

/* X(name, class): class is COMMON (required by every interface), CS, ME,
 * or OPT (the standard makes it depend on a capability flag). */
#define F2_FUNCTIONS(X)                                                                            \
    X(GetTypesPlatform, COMMON)                                                                    \
    X(GetVersion, COMMON)                                                                          \
    X(SetDebugLogging, COMMON)                                                                     \
    X(Instantiate, COMMON)                                                                         \
    X(FreeInstance, COMMON)                                                                        \
    X(SetupExperiment, COMMON)                                                                     \
    X(EnterInitializationMode, COMMON)                                                             \
    X(ExitInitializationMode, COMMON)                                                              \
    X(Terminate, COMMON)                                                                           \
    X(Reset, COMMON)                                                                               \
    X(GetReal, COMMON)                                                                             \
    X(GetInteger, COMMON)                                                                          \
    X(GetBoolean, COMMON)                                                                          \
    X(GetString, COMMON)                                                                           \
    X(SetReal, COMMON)                                                                             \
    X(SetInteger, COMMON)                                                                          \
    X(SetBoolean, COMMON)                                                                          \
    X(SetString, COMMON)                                                                           \
    X(GetFMUstate, OPT)                                                                            \
    X(SetFMUstate, OPT)                                                                            \
    X(FreeFMUstate, OPT)                                                                           \
    X(SerializedFMUstateSize, OPT)                                                                 \
    X(SerializeFMUstate, OPT)                                                                      \
    X(DeSerializeFMUstate, OPT)                                                                    \
    X(GetDirectionalDerivative, OPT)                                                               \
    X(EnterEventMode, ME)                                                                          \
    X(NewDiscreteStates, ME)                                                                       \
    X(EnterContinuousTimeMode, ME)                                                                 \
    X(CompletedIntegratorStep, ME)                                                                 \
    X(SetTime, ME)                                                                                 \
    X(SetContinuousStates, ME)                                                                     \
    X(GetDerivatives, ME)                                                                          \
    X(GetEventIndicators, ME)                                                                      \
    X(GetContinuousStates, ME)                                                                     \
    X(GetNominalsOfContinuousStates, ME)                                                           \
    X(SetRealInputDerivatives, OPT)                                                                \
    X(GetRealOutputDerivatives, OPT)                                                               \
    X(DoStep, CS)                                                                                  \
    X(CancelStep, CS)                                                                              \
    X(GetStatus, CS)                                                                               \
    X(GetRealStatus, CS)                                                                           \
    X(GetIntegerStatus, CS)                                                                        \
    X(GetBooleanStatus, CS)                                                                        \
    X(GetStringStatus, CS)

#define F3_FUNCTIONS(X)                                                                            \
    X(GetVersion, COMMON)                                                                          \
    X(SetDebugLogging, COMMON)                                                                     \
    X(InstantiateModelExchange, ME)                                                                \
    X(InstantiateCoSimulation, CS)                                                                 \
    X(InstantiateScheduledExecution, SE)                                                           \
    X(FreeInstance, COMMON)                                                                        \
    X(EnterInitializationMode, COMMON)                                                             \
    X(ExitInitializationMode, COMMON)                                                              \
    X(EnterEventMode, COMMON)                                                                      \
    X(Terminate, COMMON)                                                                           \
    X(Reset, COMMON)                                                                               \
    X(GetFloat32, COMMON)                                                                          \
    X(GetFloat64, COMMON)                                                                          \
    X(GetInt8, COMMON)                                                                             \
    X(GetUInt8, COMMON)                                                                            \
    X(GetInt16, COMMON)                                                                            \
    X(GetUInt16, COMMON)                                                                           \
    X(GetInt32, COMMON)                                                                            \
    X(GetUInt32, COMMON)                                                                           \
    X(GetInt64, COMMON)                                                                            \
    X(GetUInt64, COMMON)                                                                           \
    X(GetBoolean, COMMON)                                                                          \
    X(GetString, COMMON)                                                                           \
    X(GetBinary, COMMON)                                                                           \
    X(GetClock, OPT)                                                                               \
    X(SetFloat32, COMMON)                                                                          \
    X(SetFloat64, COMMON)                                                                          \
    X(SetInt8, COMMON)                                                                             \
    X(SetUInt8, COMMON)                                                                            \
    X(SetInt16, COMMON)                                                                            \
    X(SetUInt16, COMMON)                                                                           \
    X(SetInt32, COMMON)                                                                            \
    X(SetUInt32, COMMON)                                                                           \
    X(SetInt64, COMMON)                                                                            \
    X(SetUInt64, COMMON)                                                                           \
    X(SetBoolean, COMMON)                                                                          \
    X(SetString, COMMON)                                                                           \
    X(SetBinary, COMMON)                                                                           \
    X(SetClock, OPT)                                                                               \
    X(GetNumberOfVariableDependencies, OPT)                                                        \
    X(GetVariableDependencies, OPT)                                                                \
    X(GetFMUState, OPT)                                                                            \
    X(SetFMUState, OPT)                                                                            \
    X(FreeFMUState, OPT)                                                                           \
    X(SerializedFMUStateSize, OPT)                                                                 \
    X(SerializeFMUState, OPT)                                                                      \
    X(DeserializeFMUState, OPT)                                                                    \
    X(GetDirectionalDerivative, OPT)                                                               \
    X(GetAdjointDerivative, OPT)                                                                   \
    X(EnterConfigurationMode, OPT)                                                                 \
    X(ExitConfigurationMode, OPT)                                                                  \
    X(GetIntervalDecimal, OPT)                                                                     \
    X(GetIntervalFraction, OPT)                                                                    \
    X(GetShiftDecimal, OPT)                                                                        \
    X(GetShiftFraction, OPT)                                                                       \
    X(SetIntervalDecimal, OPT)                                                                     \
    X(SetIntervalFraction, OPT)                                                                    \
    X(SetShiftDecimal, OPT)                                                                        \
    X(SetShiftFraction, OPT)                                                                       \
    X(EvaluateDiscreteStates, OPT)                                                                 \
    X(UpdateDiscreteStates, ME)                                                                    \
    X(EnterContinuousTimeMode, ME)                                                                 \
    X(CompletedIntegratorStep, ME)                                                                 \
    X(SetTime, ME)                                                                                 \
    X(SetContinuousStates, ME)                                                                     \
    X(GetContinuousStateDerivatives, ME)                                                           \
    X(GetEventIndicators, ME)                                                                      \
    X(GetContinuousStates, ME)                                                                     \
    X(GetNominalsOfContinuousStates, ME)                                                           \
    X(GetNumberOfEventIndicators, ME)                                                              \
    X(GetNumberOfContinuousStates, ME)                                                             \
    X(EnterStepMode, CS)                                                                           \
    X(GetOutputDerivatives, OPT)                                                                   \
    X(DoStep, CS)                                                                                  \
    X(ActivateModelPartition, SE)

typedef struct {
#define X(name, cls) fmi2##name##TYPE *name;
    F2_FUNCTIONS(X)
#undef X
} fmi2_api;

typedef struct {
#define X(name, cls) fmi3##name##TYPE *name;
    F3_FUNCTIONS(X)
#undef X
} fmi3_api;

enum { CLS_COMMON, CLS_CS, CLS_ME, CLS_SE, CLS_OPT };

typedef struct {
    const char *name;
    int cls;
    size_t offset;
} fn_entry;

static const fn_entry f2_table[] = {
#define X(name, cls) { "fmi2" #name, CLS_##cls, offsetof(fmi2_api, name) },
    F2_FUNCTIONS(X)
#undef X
};

static const fn_entry f3_table[] = {
#define X(name, cls) { "fmi3" #name, CLS_##cls, offsetof(fmi3_api, name) },
    F3_FUNCTIONS(X)
#undef X
};

/* The required-name arrays: a name is listed when its class is COMMON or
 * the interface's own. */
#define NAME_IF_COMMON(p, n) p #n,
#define NAME_IF_CS(p, n)
#define NAME_IF_ME(p, n)
#define NAME_IF_SE(p, n)
#define NAME_IF_OPT(p, n)

#define CS_IF_COMMON(p, n) p #n,
#define CS_IF_CS(p, n) p #n,
#define CS_IF_ME(p, n)
#define CS_IF_SE(p, n)
#define CS_IF_OPT(p, n)

#define ME_IF_COMMON(p, n) p #n,
#define ME_IF_CS(p, n)
#define ME_IF_ME(p, n) p #n,
#define ME_IF_SE(p, n)
#define ME_IF_OPT(p, n)

#define SE_IF_COMMON(p, n) p #n,
#define SE_IF_CS(p, n)
#define SE_IF_ME(p, n)
#define SE_IF_SE(p, n) p #n,
#define SE_IF_OPT(p, n)

static const char *const f2_required_cs[] = {
#define X(name, cls) CS_IF_##cls("fmi2", name)
    F2_FUNCTIONS(X)
#undef X
    NULL
};
static const char *const f2_required_me[] = {
#define X(name, cls) ME_IF_##cls("fmi2", name)
    F2_FUNCTIONS(X)
#undef X
    NULL
};
static const char *const f3_required_cs[] = {
#define X(name, cls) CS_IF_##cls("fmi3", name)
    F3_FUNCTIONS(X)
#undef X
    NULL
};
static const char *const f3_required_me[] = {
#define X(name, cls) ME_IF_##cls("fmi3", name)
    F3_FUNCTIONS(X)
#undef X
    NULL
};
static const char *const f3_required_se[] = {
#define X(name, cls) SE_IF_##cls("fmi3", name)
    F3_FUNCTIONS(X)
#undef X
    NULL
};
static const char *const no_functions[] = { NULL };

const char *const *fmi_required_functions(fmi_version version, fmi_interface iface)
{
    if (version == FMI_VERSION_2)
        return iface == FMI_CS ? f2_required_cs : iface == FMI_ME ? f2_required_me : no_functions;
    if (version == FMI_VERSION_3)
        return iface == FMI_CS ? f3_required_cs : iface == FMI_ME ? f3_required_me : f3_required_se;
    return no_functions;
}

/* --- the binary ------------------------------------------------------ */

struct fmi_binary {
    void *handle;
    fmi_version version;
    fmi_interface iface;
    char *path;
    char *unpack_dir;
    fmi2_api f2;
    fmi3_api f3;
};

/* A model identifier becomes a file name: refuse anything that could
 * leave binaries/<platform>/. */
static bool identifier_is_safe(const char *id)
{
    if (!id || !*id || strlen(id) > 200)
        return false;
    if (strchr(id, '/') || strchr(id, '\\') || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
        return false;
    return true;
}

static char *binary_path_in(const char *unpack_dir, const char *platform, const char *id)
{
    size_t len = strlen(unpack_dir) + strlen(platform) + strlen(id) + 32;
    char *p = malloc(len);
    if (p)
        snprintf(p, len, "%s/binaries/%s/%s.so", unpack_dir, platform, id);
    return p;
}

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *fmi_binary_path(const fmi_model *model, const char *unpack_dir, fmi_interface iface)
{
    if (!model || !unpack_dir || (unsigned)iface > FMI_SE || !model->interfaces[iface].present)
        return NULL;
    const char *id = model->interfaces[iface].model_identifier;
    if (!identifier_is_safe(id))
        return NULL;
    if (model->version == FMI_VERSION_3)
        return binary_path_in(unpack_dir, "x86_64-linux", id);
    char *p = binary_path_in(unpack_dir, "linux64", id);
    if (p && !is_file(p)) {
        char *alt = binary_path_in(unpack_dir, "x86_64-linux", id);
        if (alt && is_file(alt)) {
            free(p);
            return alt;
        }
        free(alt);
    }
    return p;
}

/* The binary's path inside the FMU (messages must not show where it was
 * unpacked). */
static const char *rel_path(const fmi_binary *bin)
{
    size_t n = strlen(bin->unpack_dir);
    if (!strncmp(bin->path, bin->unpack_dir, n) && bin->path[n] == '/')
        return bin->path + n + 1;
    return bin->path;
}

static int resolve_all(fmi_binary *bin)
{
    const fn_entry *table = bin->version == FMI_VERSION_2 ? f2_table : f3_table;
    size_t n = bin->version == FMI_VERSION_2 ? sizeof f2_table / sizeof *f2_table
                                             : sizeof f3_table / sizeof *f3_table;
    char *base = bin->version == FMI_VERSION_2 ? (char *)&bin->f2 : (char *)&bin->f3;
    int own = bin->iface == FMI_CS ? CLS_CS : bin->iface == FMI_ME ? CLS_ME : CLS_SE;

    for (size_t i = 0; i < n; i++) {
        dlerror();
        void *sym = dlsym(bin->handle, table[i].name);
        if (!sym && (table[i].cls == CLS_COMMON || table[i].cls == own))
            return fmugw_error_set(FMUGW_ENOTFOUND, "%s: required function %s is not exported (%s)",
                                   rel_path(bin), table[i].name, fmi_interface_name(bin->iface));
        /* POSIX guarantees a dlsym() result converts to a function pointer. */
        memcpy(base + table[i].offset, &sym, sizeof sym);
    }
    return 0;
}

int fmi_binary_open(fmi_binary **out, const fmi_model *model, const char *unpack_dir, fmi_interface iface)
{
    int rc = 0;
    fmi_binary *bin = NULL;
    *out = NULL;

    if ((unsigned)iface > FMI_SE || !model->interfaces[iface].present) {
        rc = fmugw_error_set(FMUGW_EUNSUPPORTED, "the FMU does not provide %s", fmi_interface_name(iface));
        goto out;
    }
    if (iface == FMI_SE) {
        rc = fmugw_error_set(FMUGW_EUNSUPPORTED, "ScheduledExecution is not supported");
        goto out;
    }
    if (model->version != FMI_VERSION_2 && model->version != FMI_VERSION_3) {
        rc = fmugw_error_set(FMUGW_EUNSUPPORTED, "unsupported FMI version");
        goto out;
    }
    if (!identifier_is_safe(model->interfaces[iface].model_identifier)) {
        rc = fmugw_error_set(FMUGW_EUNSAFE, "modelIdentifier \"%s\" cannot be used as a file name",
                             model->interfaces[iface].model_identifier ? model->interfaces[iface].model_identifier : "");
        goto out;
    }
    if (!(bin = calloc(1, sizeof *bin))) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    bin->version = model->version;
    bin->iface = iface;
    bin->path = fmi_binary_path(model, unpack_dir, iface);
    bin->unpack_dir = strdup(unpack_dir);
    if (!bin->path || !bin->unpack_dir) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    if (!is_file(bin->path)) {
        const char *platform = model->version == FMI_VERSION_2 ? "binaries/linux64 or binaries/x86_64-linux"
                                                              : "binaries/x86_64-linux";
        rc = fmugw_error_set(FMUGW_ENOTFOUND, "the FMU has no binary for this platform: %s.so not found in %s",
                             model->interfaces[iface].model_identifier, platform);
        goto out;
    }
    dlerror();
    bin->handle = dlopen(bin->path, RTLD_NOW | RTLD_LOCAL);
    if (!bin->handle) {
        const char *e = dlerror();
        rc = fmugw_error_set(FMUGW_EFMU, "cannot load %s: %s", rel_path(bin), e ? e : "unknown error");
        goto out;
    }
    if ((rc = resolve_all(bin)))
        goto out;
    *out = bin;
    bin = NULL;
out:
    fmi_binary_close(bin);
    return rc;
}

void fmi_binary_close(fmi_binary *bin)
{
    if (!bin)
        return;
    if (bin->handle)
        dlclose(bin->handle);
    free(bin->path);
    free(bin->unpack_dir);
    free(bin);
}

/* --- instance state -------------------------------------------------- */

enum {
    ST_INSTANTIATED = 1 << 0,
    ST_INIT = 1 << 1,
    ST_EVENT = 1 << 2,
    ST_CONT = 1 << 3,
    ST_STEP = 1 << 4,
    ST_STEP_FAILED = 1 << 5, /* FMI 2 CS after fmi2DoStep returned Discard */
    ST_TERMINATED = 1 << 6,
    ST_ERROR = 1 << 7,
    ST_FATAL = 1 << 8
};

#define MASK_SET (ST_INSTANTIATED | ST_INIT | ST_EVENT | ST_CONT | ST_STEP)
#define MASK_GET (ST_INIT | ST_EVENT | ST_CONT | ST_STEP | ST_STEP_FAILED | ST_TERMINATED | ST_ERROR)
#define MASK_ME_GET (ST_INIT | ST_EVENT | ST_CONT | ST_TERMINATED | ST_ERROR)
#define MASK_TERMINATE (ST_EVENT | ST_CONT | ST_STEP | ST_STEP_FAILED)

static const char *state_name(unsigned st)
{
    switch (st) {
    case ST_INSTANTIATED: return "Instantiated";
    case ST_INIT: return "Initialization Mode";
    case ST_EVENT: return "Event Mode";
    case ST_CONT: return "Continuous-Time Mode";
    case ST_STEP: return "Step Mode";
    case ST_STEP_FAILED: return "Step Failed";
    case ST_TERMINATED: return "Terminated";
    case ST_ERROR: return "Error";
    case ST_FATAL: return "Fatal";
    default: return "?";
    }
}

static const char *status_name(int status)
{
    static const char *const names[] = { "OK", "Warning", "Discard", "Error", "Fatal", "Pending" };
    return status >= 0 && status <= 5 ? names[status] : "invalid status";
}

typedef struct {
    uint32_t vr;
    size_t size;
} array_size;

struct fmi_instance {
    fmi_binary *bin;
    const fmi_model *model;
    fmi_version version;
    fmi_interface iface;
    void *comp;
    unsigned state;
    char *name;
    char *resource;
    fmi_log_fn log;
    fmi_call_log_fn call_log;
    void *log_ctx;
    fmi2CallbackFunctions cb2; /* must outlive the FMI 2 component */
    size_t n_states;
    size_t n_event_indicators;
    array_size *arrays; /* FMI 3 array variables, sorted by vr */
    size_t n_arrays;
    char last_msg[512]; /* last Warning+ message the FMU logged during a call */
};

/* --- FMU callbacks --------------------------------------------------- */

static void record_message(fmi_instance *inst, int status, const char *category, const char *message)
{
    if (!inst)
        return;
    if (status >= FMI_STATUS_WARNING)
        snprintf(inst->last_msg, sizeof inst->last_msg, "%s", message);
    if (inst->log)
        inst->log(inst->log_ctx, (fmi_status)status, category ? category : "", message);
}

static void fmi2_logger(fmi2ComponentEnvironment env, fmi2String instance_name, fmi2Status status,
                        fmi2String category, fmi2String message, ...)
{
    char buf[4096];
    (void)instance_name;
    buf[0] = '\0';
    if (message) {
        va_list ap;
        va_start(ap, message);
        vsnprintf(buf, sizeof buf, message, ap);
        va_end(ap);
    }
    record_message(env, (int)status, category, buf);
}

static void *fmi2_allocate(size_t nobj, size_t size)
{
    return calloc(nobj ? nobj : 1, size ? size : 1);
}

static void fmi2_free(void *p)
{
    free(p);
}

static void fmi3_logger(fmi3InstanceEnvironment env, fmi3Status status, fmi3String category, fmi3String message)
{
    record_message(env, (int)status, category, message ? message : "");
}

/* --- call logging ---------------------------------------------------- */

typedef struct {
    bool on;
    size_t len;
    char buf[2048];
} line;

/* lb_add() costs nothing when call logging is off: the hot paths (doStep,
 * get/set) call it several times per FMI call. */
#define lb_add(l, ...)                  \
    do {                                \
        if ((l)->on)                    \
            lb_append((l), __VA_ARGS__); \
    } while (0)

__attribute__((format(printf, 2, 3))) static void lb_append(line *l, const char *fmt, ...)
{
    if (l->len >= sizeof l->buf - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(l->buf + l->len, sizeof l->buf - l->len, fmt, ap);
    va_end(ap);
    if (k < 0)
        return;
    l->len += (size_t)k;
    if (l->len >= sizeof l->buf - 1) {
        l->len = sizeof l->buf - 1;
        memcpy(l->buf + l->len - 3, "...", 3);
    }
}

typedef enum { VK_F64, VK_F32, VK_I64, VK_U64, VK_BOOL, VK_STR, VK_VR, VK_SIZE } value_kind;

#define LOG_MAX_VALUES 32

static void lb_values(line *l, const char *label, value_kind kind, const void *p, size_t n)
{
    if (!l->on)
        return;
    lb_add(l, "%s=[", label);
    for (size_t i = 0; i < n && i < LOG_MAX_VALUES; i++) {
        const char *sep = i ? ", " : "";
        switch (kind) {
        case VK_F64: lb_add(l, "%s%.17g", sep, ((const double *)p)[i]); break;
        case VK_F32: lb_add(l, "%s%.9g", sep, (double)((const float *)p)[i]); break;
        case VK_I64: lb_add(l, "%s%lld", sep, (long long)((const int64_t *)p)[i]); break;
        case VK_U64: lb_add(l, "%s%llu", sep, (unsigned long long)((const uint64_t *)p)[i]); break;
        case VK_BOOL: lb_add(l, "%s%d", sep, ((const bool *)p)[i] ? 1 : 0); break;
        case VK_STR: {
            const char *s = ((const char *const *)p)[i];
            if (s)
                lb_add(l, "%s\"%.64s\"", sep, s);
            else
                lb_add(l, "%sNULL", sep);
            break;
        }
        case VK_VR: lb_add(l, "%s%u", sep, (unsigned)((const uint32_t *)p)[i]); break;
        case VK_SIZE: lb_add(l, "%s%zu", sep, ((const size_t *)p)[i]); break;
        }
    }
    lb_add(l, "%s]", n > LOG_MAX_VALUES ? ", ..." : "");
}

/* Starts a call: checks that `fname` is legal in the current state (the
 * refusal is an error naming the state) and opens the log line. */
static int call_begin(fmi_instance *inst, unsigned mask, const char *fname, line *l)
{
    l->on = inst->call_log != NULL;
    l->len = 0;
    l->buf[0] = '\0';
    inst->last_msg[0] = '\0';
    if (!(inst->state & mask)) {
        int rc = fmugw_error_set(FMUGW_EFMU, "%s is not allowed in state %s (instance \"%s\")", fname,
                                 state_name(inst->state), inst->name);
        if (l->on) {
            lb_add(l, "%s refused: %s", fname, fmugw_error_last());
            inst->call_log(inst->log_ctx, l->buf);
        }
        return rc;
    }
    lb_add(l, "%s(", fname);
    return 0;
}

/* Ends a call: writes the log line and maps the status. */
static int call_end(fmi_instance *inst, const char *fname, int status, line *l)
{
    lb_add(l, ") -> %s", status_name(status));
    if (l->on)
        inst->call_log(inst->log_ctx, l->buf);
    if (status == FMI_STATUS_OK || status == FMI_STATUS_WARNING)
        return 0;
    if (status == FMI_STATUS_ERROR)
        inst->state = ST_ERROR;
    else if (status == FMI_STATUS_FATAL)
        inst->state = ST_FATAL;
    if (inst->last_msg[0])
        return fmugw_error_set(FMUGW_EFMU, "%s returned %s: %s", fname, status_name(status), inst->last_msg);
    return fmugw_error_set(FMUGW_EFMU, "%s returned %s", fname, status_name(status));
}

static int not_available(const char *what, const fmi_instance *inst)
{
    return fmugw_error_set(FMUGW_EUNSUPPORTED, "%s is not available for FMI %d %s", what, (int)inst->version,
                           fmi_interface_name(inst->iface));
}

/* --- instantiation --------------------------------------------------- */

static size_t sum_sizes(const fmi_model *m, const fmi_unknown *u, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = 1;
        if (u[i].var >= 0 && (size_t)u[i].var < m->n_variables)
            k = fmi_variable_size(m, &m->variables[u[i].var]);
        total += k;
    }
    return total;
}

static int cmp_array_size(const void *a, const void *b)
{
    uint32_t x = ((const array_size *)a)->vr, y = ((const array_size *)b)->vr;
    return x < y ? -1 : x > y;
}

static int collect_arrays(fmi_instance *inst)
{
    const fmi_model *m = inst->model;
    size_t n = 0;
    for (size_t i = 0; i < m->n_variables; i++)
        n += m->variables[i].n_dims > 0;
    if (n == 0)
        return 0;
    if (!(inst->arrays = calloc(n, sizeof *inst->arrays)))
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    for (size_t i = 0; i < m->n_variables; i++) {
        if (m->variables[i].n_dims == 0)
            continue;
        inst->arrays[inst->n_arrays].vr = m->variables[i].vr;
        inst->arrays[inst->n_arrays].size = fmi_variable_size(m, &m->variables[i]);
        inst->n_arrays++;
    }
    qsort(inst->arrays, inst->n_arrays, sizeof *inst->arrays, cmp_array_size);
    return 0;
}

/* FMI 3 nValues: one per scalar, the element count per array. */
static size_t n_values(const fmi_instance *inst, const uint32_t *vrs, size_t n)
{
    size_t total = n;
    if (!inst->n_arrays)
        return total;
    for (size_t i = 0; i < n; i++) {
        array_size key = { vrs[i], 0 };
        const array_size *a = bsearch(&key, inst->arrays, inst->n_arrays, sizeof key, cmp_array_size);
        if (a && a->size != 1)
            total += a->size - 1; /* a zero-size array takes no element */
    }
    return total;
}

/* FMI 2 wants a file URI: percent-encode everything but unreserved
 * characters and '/'. */
static char *file_uri(const char *path)
{
    size_t len = strlen(path);
    char *uri = malloc(len * 3 + 8);
    if (!uri)
        return NULL;
    char *p = uri;
    p += sprintf(p, "file://");
    for (const unsigned char *s = (const unsigned char *)path; *s; s++) {
        if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
            strchr("-._~/", *s))
            *p++ = (char)*s;
        else
            p += sprintf(p, "%%%02X", *s);
    }
    *p = '\0';
    return uri;
}

static char *resource_location(const fmi_instance *inst, const fmi_instance_options *opts)
{
    char *dir = NULL, *res = NULL;
    if (opts && opts->resource_dir)
        dir = strdup(opts->resource_dir);
    else
        dir = fmugw_path_join(inst->bin->unpack_dir, "resources");
    if (!dir)
        return NULL;
    if (inst->version == FMI_VERSION_2) {
        size_t n = strlen(dir);
        while (n > 1 && dir[n - 1] == '/')
            dir[--n] = '\0';
        res = file_uri(dir);
    } else {
        size_t n = strlen(dir);
        if (n && dir[n - 1] == '/')
            return dir;
        if ((res = malloc(n + 2)))
            snprintf(res, n + 2, "%s/", dir);
    }
    free(dir);
    return res;
}

static int instantiate2(fmi_instance *inst, bool logging_on)
{
    line l;
    int rc = call_begin(inst, ST_INSTANTIATED, "fmi2Instantiate", &l);
    if (rc)
        return rc;
    const char *guid = inst->model->instantiation_token ? inst->model->instantiation_token : "";
    fmi2Type type = inst->iface == FMI_CS ? fmi2CoSimulation : fmi2ModelExchange;
    lb_add(&l, "instanceName=\"%s\", fmuType=%s, fmuGUID=\"%s\", fmuResourceLocation=\"%s\", visible=0, loggingOn=%d",
           inst->name, type == fmi2CoSimulation ? "fmi2CoSimulation" : "fmi2ModelExchange", guid,
           inst->resource, logging_on);
    inst->comp = inst->bin->f2.Instantiate(inst->name, type, guid, inst->resource, &inst->cb2, fmi2False,
                                           logging_on ? fmi2True : fmi2False);
    lb_add(&l, ") -> %p", inst->comp);
    if (l.on)
        inst->call_log(inst->log_ctx, l.buf);
    if (!inst->comp)
        return fmugw_error_set(FMUGW_EFMU, "fmi2Instantiate failed%s%s", inst->last_msg[0] ? ": " : "",
                               inst->last_msg);
    if (logging_on) {
        if ((rc = call_begin(inst, ST_INSTANTIATED, "fmi2SetDebugLogging", &l)))
            return rc;
        lb_add(&l, "loggingOn=1, nCategories=0, categories=NULL");
        int st = inst->bin->f2.SetDebugLogging(inst->comp, fmi2True, 0, NULL);
        if ((rc = call_end(inst, "fmi2SetDebugLogging", st, &l)))
            return rc;
    }
    return 0;
}

static int instantiate3(fmi_instance *inst, bool logging_on)
{
    line l;
    const char *fname = inst->iface == FMI_CS ? "fmi3InstantiateCoSimulation" : "fmi3InstantiateModelExchange";
    int rc = call_begin(inst, ST_INSTANTIATED, fname, &l);
    if (rc)
        return rc;
    const char *token = inst->model->instantiation_token ? inst->model->instantiation_token : "";
    lb_add(&l, "instanceName=\"%s\", instantiationToken=\"%s\", resourcePath=\"%s\", visible=0, loggingOn=%d",
           inst->name, token, inst->resource, logging_on);
    if (inst->iface == FMI_CS) {
        lb_add(&l, ", eventModeUsed=0, earlyReturnAllowed=0, nRequiredIntermediateVariables=0");
        inst->comp = inst->bin->f3.InstantiateCoSimulation(inst->name, token, inst->resource, false, logging_on,
                                                           false, false, NULL, 0, inst, fmi3_logger, NULL);
    } else {
        inst->comp = inst->bin->f3.InstantiateModelExchange(inst->name, token, inst->resource, false, logging_on,
                                                            inst, fmi3_logger);
    }
    lb_add(&l, ") -> %p", inst->comp);
    if (l.on)
        inst->call_log(inst->log_ctx, l.buf);
    if (!inst->comp)
        return fmugw_error_set(FMUGW_EFMU, "%s failed%s%s", fname, inst->last_msg[0] ? ": " : "", inst->last_msg);
    if (logging_on) {
        if ((rc = call_begin(inst, ST_INSTANTIATED, "fmi3SetDebugLogging", &l)))
            return rc;
        lb_add(&l, "loggingOn=1, nCategories=0, categories=NULL");
        int st = inst->bin->f3.SetDebugLogging(inst->comp, true, 0, NULL);
        if ((rc = call_end(inst, "fmi3SetDebugLogging", st, &l)))
            return rc;
    }
    return 0;
}

int fmi_instance_new(fmi_instance **out, fmi_binary *bin, const fmi_model *model, const fmi_instance_options *opts)
{
    int rc = 0;
    fmi_instance *inst = NULL;
    *out = NULL;

    if (model->version != bin->version) {
        rc = fmugw_error_set(FMUGW_EINVALID, "the binary was opened for FMI %d, the model is FMI %d",
                             (int)bin->version, (int)model->version);
        goto out;
    }
    if (!(inst = calloc(1, sizeof *inst))) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    inst->bin = bin;
    inst->model = model;
    inst->version = bin->version;
    inst->iface = bin->iface;
    inst->state = ST_INSTANTIATED;
    if (opts) {
        inst->log = opts->log;
        inst->call_log = opts->call_log;
        inst->log_ctx = opts->log_ctx;
    }
    const char *name = opts && opts->instance_name ? opts->instance_name
                       : model->model_name          ? model->model_name
                                                    : "instance";
    inst->name = strdup(name);
    inst->resource = resource_location(inst, opts);
    if (!inst->name || !inst->resource) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    const fmi2CallbackFunctions cb = { fmi2_logger, fmi2_allocate, fmi2_free, NULL, inst };
    memcpy(&inst->cb2, &cb, sizeof cb);

    if (inst->version == FMI_VERSION_2) {
        inst->n_states = model->n_derivatives;
        inst->n_event_indicators = model->number_of_event_indicators;
    } else {
        inst->n_states = sum_sizes(model, model->derivatives, model->n_derivatives);
        inst->n_event_indicators = sum_sizes(model, model->event_indicators, model->n_event_indicators);
        if ((rc = collect_arrays(inst)))
            goto out;
    }

    bool logging_on = opts && opts->logging_on;
    rc = inst->version == FMI_VERSION_2 ? instantiate2(inst, logging_on) : instantiate3(inst, logging_on);
    if (rc)
        goto out;
    *out = inst;
    inst = NULL;
out:
    fmi_instance_free(inst);
    return rc;
}

fmi_interface fmi_instance_interface(const fmi_instance *inst)
{
    return inst->iface;
}

void fmi_instance_free(fmi_instance *inst)
{
    if (!inst)
        return;
    if (inst->comp && inst->state != ST_FATAL) {
        /* Keep the caller's error message: cleanup must not replace it. */
        char *saved = strdup(fmugw_error_last());
        if (inst->state & MASK_TERMINATE)
            fmi_instance_terminate(inst);
        line l;
        const char *fname = inst->version == FMI_VERSION_2 ? "fmi2FreeInstance" : "fmi3FreeInstance";
        l.on = inst->call_log != NULL;
        l.len = 0;
        lb_add(&l, "%s()", fname);
        if (inst->version == FMI_VERSION_2)
            inst->bin->f2.FreeInstance(inst->comp);
        else
            inst->bin->f3.FreeInstance(inst->comp);
        if (l.on)
            inst->call_log(inst->log_ctx, l.buf);
        if (saved) {
            if (saved[0])
                fmugw_error_set(FMUGW_ERROR, "%s", saved);
            else
                fmugw_error_clear();
            free(saved);
        }
    }
    free(inst->name);
    free(inst->resource);
    free(inst->arrays);
    free(inst);
}

/* --- lifecycle ------------------------------------------------------- */

int fmi_instance_enter_initialization(fmi_instance *inst, double tolerance, double start_time, double stop_time)
{
    int rc, st;
    line l;
    bool tol_defined = tolerance > 0, stop_defined = stop_time >= start_time;
    if (inst->version == FMI_VERSION_2) {
        if ((rc = call_begin(inst, ST_INSTANTIATED, "fmi2SetupExperiment", &l)))
            return rc;
        lb_add(&l, "toleranceDefined=%d, tolerance=%.17g, startTime=%.17g, stopTimeDefined=%d, stopTime=%.17g",
               tol_defined, tolerance, start_time, stop_defined, stop_time);
        st = inst->bin->f2.SetupExperiment(inst->comp, tol_defined, tolerance, start_time, stop_defined, stop_time);
        if ((rc = call_end(inst, "fmi2SetupExperiment", st, &l)))
            return rc;
        if ((rc = call_begin(inst, ST_INSTANTIATED, "fmi2EnterInitializationMode", &l)))
            return rc;
        st = inst->bin->f2.EnterInitializationMode(inst->comp);
        if ((rc = call_end(inst, "fmi2EnterInitializationMode", st, &l)))
            return rc;
    } else {
        if ((rc = call_begin(inst, ST_INSTANTIATED, "fmi3EnterInitializationMode", &l)))
            return rc;
        lb_add(&l, "toleranceDefined=%d, tolerance=%.17g, startTime=%.17g, stopTimeDefined=%d, stopTime=%.17g",
               tol_defined, tolerance, start_time, stop_defined, stop_time);
        st = inst->bin->f3.EnterInitializationMode(inst->comp, tol_defined, tolerance, start_time, stop_defined,
                                                   stop_time);
        if ((rc = call_end(inst, "fmi3EnterInitializationMode", st, &l)))
            return rc;
    }
    inst->state = ST_INIT;
    return 0;
}

int fmi_instance_exit_initialization(fmi_instance *inst)
{
    int rc, st;
    line l;
    const char *fname = inst->version == FMI_VERSION_2 ? "fmi2ExitInitializationMode" : "fmi3ExitInitializationMode";
    if ((rc = call_begin(inst, ST_INIT, fname, &l)))
        return rc;
    st = inst->version == FMI_VERSION_2 ? inst->bin->f2.ExitInitializationMode(inst->comp)
                                        : inst->bin->f3.ExitInitializationMode(inst->comp);
    if ((rc = call_end(inst, fname, st, &l)))
        return rc;
    /* ME leaves initialization in Event Mode; CS (without event mode) in Step Mode. */
    inst->state = inst->iface == FMI_ME ? ST_EVENT : ST_STEP;
    return 0;
}

int fmi_instance_terminate(fmi_instance *inst)
{
    int rc, st;
    line l;
    const char *fname = inst->version == FMI_VERSION_2 ? "fmi2Terminate" : "fmi3Terminate";
    if ((rc = call_begin(inst, MASK_TERMINATE, fname, &l)))
        return rc;
    st = inst->version == FMI_VERSION_2 ? inst->bin->f2.Terminate(inst->comp) : inst->bin->f3.Terminate(inst->comp);
    if ((rc = call_end(inst, fname, st, &l)))
        return rc;
    inst->state = ST_TERMINATED;
    return 0;
}

/* --- values ---------------------------------------------------------- */

static void *tmp_array(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    return p;
}

int fmi_instance_get_float64(fmi_instance *inst, const uint32_t *vrs, size_t n, double *values)
{
    int rc, st;
    line l;
    const char *fname = inst->version == FMI_VERSION_2 ? "fmi2GetReal" : "fmi3GetFloat64";
    if ((rc = call_begin(inst, MASK_GET, fname, &l)))
        return rc;
    lb_values(&l, "vr", VK_VR, vrs, n);
    size_t nv = n;
    if (inst->version == FMI_VERSION_2) {
        st = inst->bin->f2.GetReal(inst->comp, vrs, n, values);
    } else {
        nv = n_values(inst, vrs, n);
        st = inst->bin->f3.GetFloat64(inst->comp, vrs, n, values, nv);
    }
    if (st <= fmi2Warning)
        lb_values(&l, ", values", VK_F64, values, nv);
    return call_end(inst, fname, st, &l);
}

int fmi_instance_set_float64(fmi_instance *inst, const uint32_t *vrs, size_t n, const double *values)
{
    int rc, st;
    line l;
    const char *fname = inst->version == FMI_VERSION_2 ? "fmi2SetReal" : "fmi3SetFloat64";
    if ((rc = call_begin(inst, MASK_SET, fname, &l)))
        return rc;
    lb_values(&l, "vr", VK_VR, vrs, n);
    if (inst->version == FMI_VERSION_2) {
        lb_values(&l, ", values", VK_F64, values, n);
        st = inst->bin->f2.SetReal(inst->comp, vrs, n, values);
    } else {
        size_t nv = n_values(inst, vrs, n);
        lb_values(&l, ", values", VK_F64, values, nv);
        st = inst->bin->f3.SetFloat64(inst->comp, vrs, n, values, nv);
    }
    return call_end(inst, fname, st, &l);
}

int fmi_instance_get_float32(fmi_instance *inst, const uint32_t *vrs, size_t n, float *values)
{
    int rc, st;
    line l;
    if (inst->version == FMI_VERSION_2)
        return not_available("Float32", inst);
    if ((rc = call_begin(inst, MASK_GET, "fmi3GetFloat32", &l)))
        return rc;
    size_t nv = n_values(inst, vrs, n);
    lb_values(&l, "vr", VK_VR, vrs, n);
    st = inst->bin->f3.GetFloat32(inst->comp, vrs, n, values, nv);
    if (st <= fmi3Warning)
        lb_values(&l, ", values", VK_F32, values, nv);
    return call_end(inst, "fmi3GetFloat32", st, &l);
}

int fmi_instance_set_float32(fmi_instance *inst, const uint32_t *vrs, size_t n, const float *values)
{
    int rc, st;
    line l;
    if (inst->version == FMI_VERSION_2)
        return not_available("Float32", inst);
    if ((rc = call_begin(inst, MASK_SET, "fmi3SetFloat32", &l)))
        return rc;
    size_t nv = n_values(inst, vrs, n);
    lb_values(&l, "vr", VK_VR, vrs, n);
    lb_values(&l, ", values", VK_F32, values, nv);
    st = inst->bin->f3.SetFloat32(inst->comp, vrs, n, values, nv);
    return call_end(inst, "fmi3SetFloat32", st, &l);
}

/* Integer widths: name of the FMI 3 call and the range of the type. */
typedef struct {
    const char *get, *set;
    int64_t min;
    uint64_t max;
    size_t size;
    bool is_signed;
} int_kind;

static int int_kind_of(const fmi_instance *inst, fmi_type type, int_kind *k)
{
    if (inst->version == FMI_VERSION_2) {
        if (type != FMI_INT32 && type != FMI_ENUMERATION)
            return fmugw_error_set(FMUGW_EINVALID, "FMI 2 has no %s variables", fmi_type_name(FMI_VERSION_3, type));
        *k = (int_kind){ "fmi2GetInteger", "fmi2SetInteger", INT32_MIN, INT32_MAX, sizeof(fmi2Integer), true };
        return 0;
    }
    switch (type) {
    case FMI_INT8: *k = (int_kind){ "fmi3GetInt8", "fmi3SetInt8", INT8_MIN, INT8_MAX, 1, true }; return 0;
    case FMI_UINT8: *k = (int_kind){ "fmi3GetUInt8", "fmi3SetUInt8", 0, UINT8_MAX, 1, false }; return 0;
    case FMI_INT16: *k = (int_kind){ "fmi3GetInt16", "fmi3SetInt16", INT16_MIN, INT16_MAX, 2, true }; return 0;
    case FMI_UINT16: *k = (int_kind){ "fmi3GetUInt16", "fmi3SetUInt16", 0, UINT16_MAX, 2, false }; return 0;
    case FMI_INT32: *k = (int_kind){ "fmi3GetInt32", "fmi3SetInt32", INT32_MIN, INT32_MAX, 4, true }; return 0;
    case FMI_UINT32: *k = (int_kind){ "fmi3GetUInt32", "fmi3SetUInt32", 0, UINT32_MAX, 4, false }; return 0;
    case FMI_INT64:
    case FMI_ENUMERATION:
        *k = (int_kind){ "fmi3GetInt64", "fmi3SetInt64", INT64_MIN, INT64_MAX, 8, true };
        return 0;
    case FMI_UINT64: *k = (int_kind){ "fmi3GetUInt64", "fmi3SetUInt64", 0, UINT64_MAX, 8, false }; return 0;
    default:
        return fmugw_error_set(FMUGW_EINVALID, "%s is not an integer type", fmi_type_name(FMI_VERSION_3, type));
    }
}

static int64_t int_load(const void *buf, size_t i, fmi_type type, fmi_version version)
{
    if (version == FMI_VERSION_2)
        return ((const fmi2Integer *)buf)[i];
    switch (type) {
    case FMI_INT8: return ((const int8_t *)buf)[i];
    case FMI_UINT8: return ((const uint8_t *)buf)[i];
    case FMI_INT16: return ((const int16_t *)buf)[i];
    case FMI_UINT16: return ((const uint16_t *)buf)[i];
    case FMI_INT32: return ((const int32_t *)buf)[i];
    case FMI_UINT32: return ((const uint32_t *)buf)[i];
    default: return ((const int64_t *)buf)[i];
    }
}

static void int_store(void *buf, size_t i, fmi_type type, fmi_version version, int64_t v)
{
    if (version == FMI_VERSION_2) {
        ((fmi2Integer *)buf)[i] = (fmi2Integer)v;
        return;
    }
    switch (type) {
    case FMI_INT8: ((int8_t *)buf)[i] = (int8_t)v; break;
    case FMI_UINT8: ((uint8_t *)buf)[i] = (uint8_t)v; break;
    case FMI_INT16: ((int16_t *)buf)[i] = (int16_t)v; break;
    case FMI_UINT16: ((uint16_t *)buf)[i] = (uint16_t)v; break;
    case FMI_INT32: ((int32_t *)buf)[i] = (int32_t)v; break;
    case FMI_UINT32: ((uint32_t *)buf)[i] = (uint32_t)v; break;
    case FMI_UINT64: ((uint64_t *)buf)[i] = (uint64_t)v; break;
    default: ((int64_t *)buf)[i] = v; break;
    }
}

static int int_call(fmi_instance *inst, fmi_type type, bool get, const uint32_t *vrs, size_t n, void *buf, size_t nv)
{
    if (inst->version == FMI_VERSION_2)
        return get ? inst->bin->f2.GetInteger(inst->comp, vrs, n, buf)
                   : inst->bin->f2.SetInteger(inst->comp, vrs, n, buf);
    const fmi3_api *f = &inst->bin->f3;
    void *c = inst->comp;
    switch (type) {
    case FMI_INT8: return get ? f->GetInt8(c, vrs, n, buf, nv) : f->SetInt8(c, vrs, n, buf, nv);
    case FMI_UINT8: return get ? f->GetUInt8(c, vrs, n, buf, nv) : f->SetUInt8(c, vrs, n, buf, nv);
    case FMI_INT16: return get ? f->GetInt16(c, vrs, n, buf, nv) : f->SetInt16(c, vrs, n, buf, nv);
    case FMI_UINT16: return get ? f->GetUInt16(c, vrs, n, buf, nv) : f->SetUInt16(c, vrs, n, buf, nv);
    case FMI_INT32: return get ? f->GetInt32(c, vrs, n, buf, nv) : f->SetInt32(c, vrs, n, buf, nv);
    case FMI_UINT32: return get ? f->GetUInt32(c, vrs, n, buf, nv) : f->SetUInt32(c, vrs, n, buf, nv);
    case FMI_UINT64: return get ? f->GetUInt64(c, vrs, n, buf, nv) : f->SetUInt64(c, vrs, n, buf, nv);
    default: return get ? f->GetInt64(c, vrs, n, buf, nv) : f->SetInt64(c, vrs, n, buf, nv);
    }
}

int fmi_instance_get_int(fmi_instance *inst, fmi_type type, const uint32_t *vrs, size_t n, int64_t *values)
{
    int rc, st;
    line l;
    int_kind k = { 0 };
    void *buf = NULL;
    if ((rc = int_kind_of(inst, type, &k)))
        return rc;
    if ((rc = call_begin(inst, MASK_GET, k.get, &l)))
        return rc;
    size_t nv = inst->version == FMI_VERSION_3 ? n_values(inst, vrs, n) : n;
    if (!(buf = tmp_array(nv, k.size)))
        return FMUGW_ENOMEM;
    lb_values(&l, "vr", VK_VR, vrs, n);
    st = int_call(inst, type, true, vrs, n, buf, nv);
    bool overflow = false;
    if (st <= fmi3Warning) {
        for (size_t i = 0; i < nv; i++) {
            if (type == FMI_UINT64 && ((const uint64_t *)buf)[i] > INT64_MAX)
                overflow = true;
            values[i] = int_load(buf, i, type, inst->version);
        }
        lb_values(&l, ", values", VK_I64, values, nv);
    }
    rc = call_end(inst, k.get, st, &l);
    if (rc == 0 && overflow)
        rc = fmugw_error_set(FMUGW_EINVALID, "%s: a value does not fit int64 (use fmi_instance_get_uint64)", k.get);
    free(buf);
    return rc;
}

int fmi_instance_set_int(fmi_instance *inst, fmi_type type, const uint32_t *vrs, size_t n, const int64_t *values)
{
    int rc, st;
    line l;
    int_kind k = { 0 };
    void *buf = NULL;
    if ((rc = int_kind_of(inst, type, &k)))
        return rc;
    if ((rc = call_begin(inst, MASK_SET, k.set, &l)))
        return rc;
    size_t nv = inst->version == FMI_VERSION_3 ? n_values(inst, vrs, n) : n;
    for (size_t i = 0; i < nv; i++) {
        bool ok = values[i] >= k.min && (values[i] < 0 || (uint64_t)values[i] <= k.max);
        if (!ok)
            return fmugw_error_set(FMUGW_EINVALID, "%s: value %lld is out of range for %s", k.set,
                                   (long long)values[i], fmi_type_name(inst->version, type));
    }
    if (!(buf = tmp_array(nv, k.size)))
        return FMUGW_ENOMEM;
    for (size_t i = 0; i < nv; i++)
        int_store(buf, i, type, inst->version, values[i]);
    lb_values(&l, "vr", VK_VR, vrs, n);
    lb_values(&l, ", values", VK_I64, values, nv);
    st = int_call(inst, type, false, vrs, n, buf, nv);
    rc = call_end(inst, k.set, st, &l);
    free(buf);
    return rc;
}

int fmi_instance_get_uint64(fmi_instance *inst, const uint32_t *vrs, size_t n, uint64_t *values)
{
    int rc, st;
    line l;
    if (inst->version == FMI_VERSION_2)
        return not_available("UInt64", inst);
    if ((rc = call_begin(inst, MASK_GET, "fmi3GetUInt64", &l)))
        return rc;
    size_t nv = n_values(inst, vrs, n);
    lb_values(&l, "vr", VK_VR, vrs, n);
    st = inst->bin->f3.GetUInt64(inst->comp, vrs, n, values, nv);
    if (st <= fmi3Warning)
        lb_values(&l, ", values", VK_U64, values, nv);
    return call_end(inst, "fmi3GetUInt64", st, &l);
}

int fmi_instance_set_uint64(fmi_instance *inst, const uint32_t *vrs, size_t n, const uint64_t *values)
{
    int rc, st;
    line l;
    if (inst->version == FMI_VERSION_2)
        return not_available("UInt64", inst);
    if ((rc = call_begin(inst, MASK_SET, "fmi3SetUInt64", &l)))
        return rc;
    size_t nv = n_values(inst, vrs, n);
    lb_values(&l, "vr", VK_VR, vrs, n);
    lb_values(&l, ", values", VK_U64, values, nv);
    st = inst->bin->f3.SetUInt64(inst->comp, vrs, n, values, nv);
    return call_end(inst, "fmi3SetUInt64", st, &l);
}

int fmi_instance_get_boolean(fmi_instance *inst, const uint32_t *vrs, size_t n, bool *values)
{
    int rc, st;
    line l;
    const char *fname = inst->version == FMI_VERSION_2 ? "fmi2GetBoolean" : "fmi3GetBoolean";
    if ((rc = call_begin(inst, MASK_GET, fname, &l)))
        return rc;
    lb_values(&l, "vr", VK_VR, vrs, n);
    size_t nv = n;
    if (inst->version == FMI_VERSION_2) {
        fmi2Boolean *buf = tmp_array(n, sizeof *buf);
        if (!buf)
            return FMUGW_ENOMEM;
        st = inst->bin->f2.GetBoolean(inst->comp, vrs, n, buf);
        if (st <= fmi2Warning)
            for (size_t i = 0; i < n; i++)
                values[i] = buf[i] != fmi2False;
        free(buf);
    } else {
        nv = n_values(inst, vrs, n);
        st = inst->bin->f3.GetBoolean(inst->comp, vrs, n, values, nv);
    }
    if (st <= fmi2Warning)
        lb_values(&l, ", values", VK_BOOL, values, nv);
    return call_end(inst, fname, st, &l);
}

int fmi_instance_set_boolean(fmi_instance *inst, const uint32_t *vrs, size_t n, const bool *values)
{
    int rc, st;
    line l;
    const char *fname = inst->version == FMI_VERSION_2 ? "fmi2SetBoolean" : "fmi3SetBoolean";
    if ((rc = call_begin(inst, MASK_SET, fname, &l)))
        return rc;
    lb_values(&l, "vr", VK_VR, vrs, n);
    if (inst->version == FMI_VERSION_2) {
        fmi2Boolean *buf = tmp_array(n, sizeof *buf);
        if (!buf)
            return FMUGW_ENOMEM;
        for (size_t i = 0; i < n; i++)
            buf[i] = values[i] ? fmi2True : fmi2False;
        lb_values(&l, ", values", VK_BOOL, values, n);
        st = inst->bin->f2.SetBoolean(inst->comp, vrs, n, buf);
        free(buf);
    } else {
        size_t nv = n_values(inst, vrs, n);
        lb_values(&l, ", values", VK_BOOL, values, nv);
        st = inst->bin->f3.SetBoolean(inst->comp, vrs, n, values, nv);
    }
    return call_end(inst, fname, st, &l);
}

int fmi_instance_get_string(fmi_instance *inst, const uint32_t *vrs, size_t n, const char **values)
{
    int rc, st;
    line l;
    const char *fname = inst->version == FMI_VERSION_2 ? "fmi2GetString" : "fmi3GetString";
    if ((rc = call_begin(inst, MASK_GET, fname, &l)))
        return rc;
    lb_values(&l, "vr", VK_VR, vrs, n);
    size_t nv = n;
    if (inst->version == FMI_VERSION_2) {
        st = inst->bin->f2.GetString(inst->comp, vrs, n, values);
    } else {
        nv = n_values(inst, vrs, n);
        st = inst->bin->f3.GetString(inst->comp, vrs, n, values, nv);
    }
    if (st <= fmi2Warning)
        lb_values(&l, ", values", VK_STR, values, nv);
    return call_end(inst, fname, st, &l);
}

int fmi_instance_set_string(fmi_instance *inst, const uint32_t *vrs, size_t n, const char *const *values)
{
    int rc, st;
    line l;
    const char *fname = inst->version == FMI_VERSION_2 ? "fmi2SetString" : "fmi3SetString";
    if ((rc = call_begin(inst, MASK_SET, fname, &l)))
        return rc;
    lb_values(&l, "vr", VK_VR, vrs, n);
    if (inst->version == FMI_VERSION_2) {
        lb_values(&l, ", values", VK_STR, values, n);
        st = inst->bin->f2.SetString(inst->comp, vrs, n, values);
    } else {
        size_t nv = n_values(inst, vrs, n);
        lb_values(&l, ", values", VK_STR, values, nv);
        st = inst->bin->f3.SetString(inst->comp, vrs, n, values, nv);
    }
    return call_end(inst, fname, st, &l);
}

int fmi_instance_get_binary(fmi_instance *inst, const uint32_t *vrs, size_t n, size_t *sizes, const uint8_t **values)
{
    int rc, st;
    line l;
    if (inst->version == FMI_VERSION_2)
        return not_available("Binary", inst);
    if ((rc = call_begin(inst, MASK_GET, "fmi3GetBinary", &l)))
        return rc;
    size_t nv = n_values(inst, vrs, n);
    lb_values(&l, "vr", VK_VR, vrs, n);
    st = inst->bin->f3.GetBinary(inst->comp, vrs, n, sizes, values, nv);
    if (st <= fmi3Warning)
        lb_values(&l, ", valueSizes", VK_SIZE, sizes, nv);
    return call_end(inst, "fmi3GetBinary", st, &l);
}

int fmi_instance_set_binary(fmi_instance *inst, const uint32_t *vrs, size_t n, const size_t *sizes,
                            const uint8_t *const *values)
{
    int rc, st;
    line l;
    if (inst->version == FMI_VERSION_2)
        return not_available("Binary", inst);
    if ((rc = call_begin(inst, MASK_SET, "fmi3SetBinary", &l)))
        return rc;
    size_t nv = n_values(inst, vrs, n);
    lb_values(&l, "vr", VK_VR, vrs, n);
    lb_values(&l, ", valueSizes", VK_SIZE, sizes, nv);
    st = inst->bin->f3.SetBinary(inst->comp, vrs, n, sizes, values, nv);
    return call_end(inst, "fmi3SetBinary", st, &l);
}

/* --- Co-Simulation --------------------------------------------------- */

static int do_step2(fmi_instance *inst, double t, double h, fmi_step_result *res)
{
    int rc, st;
    line l;
    const fmi2_api *f = &inst->bin->f2;
    if ((rc = call_begin(inst, ST_STEP, "fmi2DoStep", &l)))
        return rc;
    lb_add(&l, "currentCommunicationPoint=%.17g, communicationStepSize=%.17g, noSetFMUStatePriorToCurrentPoint=1",
           t, h);
    st = f->DoStep(inst->comp, t, h, fmi2True);
    res->last_successful_time = t + h;
    if (st != fmi2Discard)
        return call_end(inst, "fmi2DoStep", st, &l);

    /* Discard: the FMU may be asking to stop. */
    lb_add(&l, ") -> Discard");
    if (l.on)
        inst->call_log(inst->log_ctx, l.buf);
    char msg[sizeof inst->last_msg];
    memcpy(msg, inst->last_msg, sizeof msg);
    inst->state = ST_STEP_FAILED;

    fmi2Boolean terminated = fmi2False;
    fmi2Real last = t;
    if ((rc = call_begin(inst, ST_STEP_FAILED, "fmi2GetBooleanStatus", &l)))
        return rc;
    lb_add(&l, "s=fmi2Terminated");
    st = f->GetBooleanStatus(inst->comp, fmi2Terminated, &terminated);
    if (st <= fmi2Warning)
        lb_add(&l, ", value=%d", terminated);
    if ((rc = call_end(inst, "fmi2GetBooleanStatus", st, &l)))
        return rc;
    if (!terminated) {
        if (msg[0])
            return fmugw_error_set(FMUGW_EFMU, "fmi2DoStep returned Discard: %s", msg);
        return fmugw_error_set(FMUGW_EFMU, "fmi2DoStep returned Discard");
    }
    res->terminate = true;
    res->last_successful_time = t;
    if ((rc = call_begin(inst, ST_STEP_FAILED, "fmi2GetRealStatus", &l)))
        return rc;
    lb_add(&l, "s=fmi2LastSuccessfulTime");
    st = f->GetRealStatus(inst->comp, fmi2LastSuccessfulTime, &last);
    if (st <= fmi2Warning)
        lb_add(&l, ", value=%.17g", last);
    lb_add(&l, ") -> %s", status_name(st));
    if (l.on)
        inst->call_log(inst->log_ctx, l.buf);
    /* Not every FMU keeps the time: a failure here is not fatal. */
    if (st <= fmi2Warning)
        res->last_successful_time = last;
    return 0;
}

static int do_step3(fmi_instance *inst, double t, double h, fmi_step_result *res)
{
    int rc, st;
    line l;
    fmi3Boolean event = false, terminate = false, early = false;
    fmi3Float64 last = t + h;
    if ((rc = call_begin(inst, ST_STEP, "fmi3DoStep", &l)))
        return rc;
    lb_add(&l, "currentCommunicationPoint=%.17g, communicationStepSize=%.17g, noSetFMUStatePriorToCurrentPoint=1",
           t, h);
    st = inst->bin->f3.DoStep(inst->comp, t, h, true, &event, &terminate, &early, &last);
    if (st <= fmi3Discard)
        lb_add(&l, ", eventHandlingNeeded=%d, terminateSimulation=%d, earlyReturn=%d, lastSuccessfulTime=%.17g",
               event, terminate, early, last);
    res->event_handling_needed = event;
    res->terminate = terminate;
    res->early_return = early;
    res->last_successful_time = last;
    if (st == fmi3Discard && terminate) {
        lb_add(&l, ") -> Discard");
        if (l.on)
            inst->call_log(inst->log_ctx, l.buf);
        return 0;
    }
    return call_end(inst, "fmi3DoStep", st, &l);
}

int fmi_instance_do_step(fmi_instance *inst, double t, double h, fmi_step_result *res)
{
    memset(res, 0, sizeof *res);
    if (inst->iface != FMI_CS)
        return not_available("doStep", inst);
    return inst->version == FMI_VERSION_2 ? do_step2(inst, t, h, res) : do_step3(inst, t, h, res);
}

/* --- Model Exchange -------------------------------------------------- */

size_t fmi_instance_n_states(const fmi_instance *inst)
{
    return inst->n_states;
}

size_t fmi_instance_n_event_indicators(const fmi_instance *inst)
{
    return inst->n_event_indicators;
}

int fmi_instance_set_time(fmi_instance *inst, double t)
{
    int rc, st;
    line l;
    if (inst->iface != FMI_ME)
        return not_available("setTime", inst);
    const char *fname = inst->version == FMI_VERSION_2 ? "fmi2SetTime" : "fmi3SetTime";
    if ((rc = call_begin(inst, ST_EVENT | ST_CONT, fname, &l)))
        return rc;
    lb_add(&l, "time=%.17g", t);
    st = inst->version == FMI_VERSION_2 ? inst->bin->f2.SetTime(inst->comp, t) : inst->bin->f3.SetTime(inst->comp, t);
    return call_end(inst, fname, st, &l);
}

/* The array calls of ME: get states, derivatives, nominals, indicators. */
typedef enum { ME_STATES, ME_DERIVATIVES, ME_NOMINALS, ME_INDICATORS } me_array;

static int me_get(fmi_instance *inst, me_array which, double *out)
{
    static const char *const names2[] = { "fmi2GetContinuousStates", "fmi2GetDerivatives",
                                          "fmi2GetNominalsOfContinuousStates", "fmi2GetEventIndicators" };
    static const char *const names3[] = { "fmi3GetContinuousStates", "fmi3GetContinuousStateDerivatives",
                                          "fmi3GetNominalsOfContinuousStates", "fmi3GetEventIndicators" };
    int rc, st;
    line l;
    const char *fname = inst->version == FMI_VERSION_2 ? names2[which] : names3[which];
    if (inst->iface != FMI_ME)
        return not_available(fname, inst);
    if ((rc = call_begin(inst, MASK_ME_GET, fname, &l)))
        return rc;
    size_t n = which == ME_INDICATORS ? inst->n_event_indicators : inst->n_states;
    void *c = inst->comp;
    if (inst->version == FMI_VERSION_2) {
        const fmi2_api *f = &inst->bin->f2;
        switch (which) {
        case ME_STATES: st = f->GetContinuousStates(c, out, n); break;
        case ME_DERIVATIVES: st = f->GetDerivatives(c, out, n); break;
        case ME_NOMINALS: st = f->GetNominalsOfContinuousStates(c, out, n); break;
        default: st = f->GetEventIndicators(c, out, n); break;
        }
    } else {
        const fmi3_api *f = &inst->bin->f3;
        switch (which) {
        case ME_STATES: st = f->GetContinuousStates(c, out, n); break;
        case ME_DERIVATIVES: st = f->GetContinuousStateDerivatives(c, out, n); break;
        case ME_NOMINALS: st = f->GetNominalsOfContinuousStates(c, out, n); break;
        default: st = f->GetEventIndicators(c, out, n); break;
        }
    }
    lb_add(&l, "n=%zu", n);
    if (st <= fmi2Warning)
        lb_values(&l, ", values", VK_F64, out, n);
    return call_end(inst, fname, st, &l);
}

int fmi_instance_get_states(fmi_instance *inst, double *x)
{
    return me_get(inst, ME_STATES, x);
}

int fmi_instance_get_derivatives(fmi_instance *inst, double *dx)
{
    return me_get(inst, ME_DERIVATIVES, dx);
}

int fmi_instance_get_nominals(fmi_instance *inst, double *nominals)
{
    return me_get(inst, ME_NOMINALS, nominals);
}

int fmi_instance_get_event_indicators(fmi_instance *inst, double *z)
{
    return me_get(inst, ME_INDICATORS, z);
}

int fmi_instance_set_states(fmi_instance *inst, const double *x)
{
    int rc, st;
    line l;
    const char *fname = inst->version == FMI_VERSION_2 ? "fmi2SetContinuousStates" : "fmi3SetContinuousStates";
    if (inst->iface != FMI_ME)
        return not_available(fname, inst);
    if ((rc = call_begin(inst, ST_CONT, fname, &l)))
        return rc;
    lb_values(&l, "x", VK_F64, x, inst->n_states);
    st = inst->version == FMI_VERSION_2 ? inst->bin->f2.SetContinuousStates(inst->comp, x, inst->n_states)
                                        : inst->bin->f3.SetContinuousStates(inst->comp, x, inst->n_states);
    return call_end(inst, fname, st, &l);
}

int fmi_instance_completed_integrator_step(fmi_instance *inst, bool *enter_event_mode, bool *terminate)
{
    int rc, st;
    line l;
    const char *fname = inst->version == FMI_VERSION_2 ? "fmi2CompletedIntegratorStep" : "fmi3CompletedIntegratorStep";
    *enter_event_mode = false;
    *terminate = false;
    if (inst->iface != FMI_ME)
        return not_available(fname, inst);
    if ((rc = call_begin(inst, ST_CONT, fname, &l)))
        return rc;
    lb_add(&l, "noSetFMUStatePriorToCurrentPoint=1");
    if (inst->version == FMI_VERSION_2) {
        fmi2Boolean ev = fmi2False, term = fmi2False;
        st = inst->bin->f2.CompletedIntegratorStep(inst->comp, fmi2True, &ev, &term);
        *enter_event_mode = ev != fmi2False;
        *terminate = term != fmi2False;
    } else {
        fmi3Boolean ev = false, term = false;
        st = inst->bin->f3.CompletedIntegratorStep(inst->comp, true, &ev, &term);
        *enter_event_mode = ev;
        *terminate = term;
    }
    if (st <= fmi2Warning)
        lb_add(&l, ", enterEventMode=%d, terminateSimulation=%d", *enter_event_mode, *terminate);
    return call_end(inst, fname, st, &l);
}

int fmi_instance_enter_event_mode(fmi_instance *inst)
{
    int rc, st;
    line l;
    const char *fname = inst->version == FMI_VERSION_2 ? "fmi2EnterEventMode" : "fmi3EnterEventMode";
    if (inst->iface != FMI_ME) /* CS instances are created without event mode */
        return not_available(fname, inst);
    if ((rc = call_begin(inst, ST_CONT, fname, &l)))
        return rc;
    st = inst->version == FMI_VERSION_2 ? inst->bin->f2.EnterEventMode(inst->comp)
                                        : inst->bin->f3.EnterEventMode(inst->comp);
    if ((rc = call_end(inst, fname, st, &l)))
        return rc;
    inst->state = ST_EVENT;
    return 0;
}

int fmi_instance_update_discrete_states(fmi_instance *inst, fmi_event_result *res)
{
    int rc, st;
    line l;
    const char *fname = inst->version == FMI_VERSION_2 ? "fmi2NewDiscreteStates" : "fmi3UpdateDiscreteStates";
    memset(res, 0, sizeof *res);
    if (inst->iface != FMI_ME)
        return not_available(fname, inst);
    if ((rc = call_begin(inst, ST_EVENT, fname, &l)))
        return rc;
    if (inst->version == FMI_VERSION_2) {
        fmi2EventInfo ei = { 0 };
        st = inst->bin->f2.NewDiscreteStates(inst->comp, &ei);
        res->discrete_states_need_update = ei.newDiscreteStatesNeeded != fmi2False;
        res->terminate = ei.terminateSimulation != fmi2False;
        res->nominals_changed = ei.nominalsOfContinuousStatesChanged != fmi2False;
        res->values_changed = ei.valuesOfContinuousStatesChanged != fmi2False;
        res->next_event_time_defined = ei.nextEventTimeDefined != fmi2False;
        res->next_event_time = ei.nextEventTime;
    } else {
        fmi3Boolean need = false, term = false, nom = false, val = false, defined = false;
        fmi3Float64 next = 0;
        st = inst->bin->f3.UpdateDiscreteStates(inst->comp, &need, &term, &nom, &val, &defined, &next);
        res->discrete_states_need_update = need;
        res->terminate = term;
        res->nominals_changed = nom;
        res->values_changed = val;
        res->next_event_time_defined = defined;
        res->next_event_time = next;
    }
    if (st <= fmi2Warning)
        lb_add(&l, "discreteStatesNeedUpdate=%d, terminateSimulation=%d, nominalsChanged=%d, valuesChanged=%d, "
                   "nextEventTimeDefined=%d, nextEventTime=%.17g",
               res->discrete_states_need_update, res->terminate, res->nominals_changed, res->values_changed,
               res->next_event_time_defined, res->next_event_time);
    return call_end(inst, fname, st, &l);
}

int fmi_instance_enter_continuous_time_mode(fmi_instance *inst)
{
    int rc, st;
    line l;
    const char *fname =
        inst->version == FMI_VERSION_2 ? "fmi2EnterContinuousTimeMode" : "fmi3EnterContinuousTimeMode";
    if (inst->iface != FMI_ME)
        return not_available(fname, inst);
    if ((rc = call_begin(inst, ST_EVENT, fname, &l)))
        return rc;
    st = inst->version == FMI_VERSION_2 ? inst->bin->f2.EnterContinuousTimeMode(inst->comp)
                                        : inst->bin->f3.EnterContinuousTimeMode(inst->comp);
    if ((rc = call_end(inst, fname, st, &l)))
        return rc;
    inst->state = ST_CONT;
    return 0;
}

int fmi_instance_enter_step_mode(fmi_instance *inst)
{
    int rc, st;
    line l;
    if (inst->version != FMI_VERSION_3 || inst->iface != FMI_CS)
        return not_available("fmi3EnterStepMode", inst);
    if ((rc = call_begin(inst, ST_EVENT, "fmi3EnterStepMode", &l)))
        return rc;
    st = inst->bin->f3.EnterStepMode(inst->comp);
    if ((rc = call_end(inst, "fmi3EnterStepMode", st, &l)))
        return rc;
    inst->state = ST_STEP;
    return 0;
}
