/*
 * test_model.c - fmi_model_parse*() on inline FMI 2.0 and 3.0 documents:
 * every attribute the parser maps, defaults, reference resolution, the
 * hard failures (broken XML, wrong root, fmiVersion, DTDs / billion laughs,
 * missing name or valueReference, unknown types), non-ASCII text, a large
 * generated model, and the helper functions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fmi/model.h"
#include "util/error.h"
#include "util/fsutil.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static fmi_model *parse_ok(const char *xml)
{
    fmi_model *m = NULL;
    int rc = fmi_model_parse_buffer(&m, xml, strlen(xml));
    if (rc != 0)
        fail_msg("parse failed (%d): %s", rc, fmugw_error_last());
    assert_non_null(m);
    return m;
}

static void parse_fails(const char *xml, int code, const char *msg)
{
    fmi_model *m = (fmi_model *)1;
    fmugw_error_clear();
    assert_int_equal(fmi_model_parse_buffer(&m, xml, strlen(xml)), code);
    assert_null(m);
    if (!strstr(fmugw_error_last(), msg))
        fail_msg("message \"%s\" does not contain \"%s\"", fmugw_error_last(), msg);
    assert_null(strchr(fmugw_error_last(), '\n'));
}

static const fmi_variable *var(const fmi_model *m, const char *name)
{
    int i = fmi_model_find(m, name);
    if (i < 0)
        fail_msg("no variable %s", name);
    return &m->variables[i];
}

static const char fmi2_doc[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<fmiModelDescription fmiVersion=\"2.0\" modelName=\"BouncingBall\" guid=\"{1234}\"\n"
    "  description=\"a ball\" author=\"me\" version=\"1.2\" copyright=\"(c)\" license=\"BSD\"\n"
    "  generationTool=\"hand\" generationDateAndTime=\"2024-01-01T00:00:00Z\"\n"
    "  variableNamingConvention=\"structured\" numberOfEventIndicators=\"1\">\n"
    "  <ModelExchange modelIdentifier=\"bb_me\" needsExecutionTool=\"false\"\n"
    "    completedIntegratorStepNotNeeded=\"true\" canBeInstantiatedOnlyOncePerProcess=\"true\"\n"
    "    canNotUseMemoryManagementFunctions=\"true\" canGetAndSetFMUstate=\"true\"\n"
    "    canSerializeFMUstate=\"true\" providesDirectionalDerivative=\"true\"/>\n"
    "  <CoSimulation modelIdentifier=\"bb_cs\" canHandleVariableCommunicationStepSize=\"true\"\n"
    "    canInterpolateInputs=\"true\" maxOutputDerivativeOrder=\"2\" canRunAsynchronuously=\"true\">\n"
    "    <SourceFiles><File name=\"bb.c\"/></SourceFiles>\n"
    "  </CoSimulation>\n"
    "  <UnitDefinitions>\n"
    "    <Unit name=\"m\"><BaseUnit m=\"1\"/></Unit>\n"
    "    <Unit name=\"m/s\"><BaseUnit m=\"1\" s=\"-1\"/><DisplayUnit name=\"km/h\" factor=\"3.6\"/></Unit>\n"
    "  </UnitDefinitions>\n"
    "  <TypeDefinitions>\n"
    "    <SimpleType name=\"Position\"><Real quantity=\"Length\" unit=\"m\" min=\"-10\" max=\"10\" nominal=\"2\"/></SimpleType>\n"
    "    <SimpleType name=\"Mode\"><Enumeration quantity=\"q\"><Item name=\"off\" value=\"1\"/><Item name=\"on\" value=\"5\"/></Enumeration></SimpleType>\n"
    "  </TypeDefinitions>\n"
    "  <LogCategories><Category name=\"logAll\" description=\"everything\"/><Category name=\"logError\"/></LogCategories>\n"
    "  <DefaultExperiment startTime=\"0.5\" stopTime=\"3\" tolerance=\"1e-6\" stepSize=\"0.01\"/>\n"
    "  <VendorAnnotations><Tool name=\"x\"><anything/></Tool></VendorAnnotations>\n"
    "  <ModelVariables>\n"
    "    <ScalarVariable name=\"time\" valueReference=\"0\" causality=\"independent\" variability=\"continuous\"><Real/></ScalarVariable>\n"
    "    <ScalarVariable name=\"h\" valueReference=\"1\" description=\"height\" causality=\"output\" initial=\"exact\">\n"
    "      <Real declaredType=\"Position\" start=\"1\" reinit=\"true\"/>\n"
    "      <Annotations><Tool name=\"y\"/></Annotations>\n"
    "    </ScalarVariable>\n"
    "    <ScalarVariable name=\"der(h)\" valueReference=\"2\" causality=\"local\"><Real derivative=\"2\" unit=\"m/s\" displayUnit=\"km/h\"/></ScalarVariable>\n"
    "    <ScalarVariable name=\"g\" valueReference=\"3\" causality=\"parameter\" variability=\"fixed\" canHandleMultipleSetPerTimeInstant=\"true\">\n"
    "      <Real quantity=\"Acceleration\" unit=\"m/s2\" min=\"-100\" max=\"0\" nominal=\"9.81\" relativeQuantity=\"true\" unbounded=\"true\" start=\"-9.81\"/>\n"
    "    </ScalarVariable>\n"
    "    <ScalarVariable name=\"n\" valueReference=\"1\" causality=\"input\"><Integer min=\"0\" max=\"7\" start=\"3\" quantity=\"count\"/></ScalarVariable>\n"
    "    <ScalarVariable name=\"hit\" valueReference=\"1\" causality=\"output\" variability=\"discrete\"><Boolean/></ScalarVariable>\n"
    "    <ScalarVariable name=\"label\" valueReference=\"1\" causality=\"parameter\" variability=\"tunable\"><String start=\"hello world\"/></ScalarVariable>\n"
    "    <ScalarVariable name=\"mode\" valueReference=\"2\" causality=\"parameter\" variability=\"fixed\"><Enumeration declaredType=\"Mode\" start=\"5\"/></ScalarVariable>\n"
    "    <ScalarVariable name=\"bad_der\" valueReference=\"9\"><Real derivative=\"42\"/></ScalarVariable>\n"
    "  </ModelVariables>\n"
    "  <ModelStructure>\n"
    "    <Outputs><Unknown index=\"2\" dependencies=\"2 4\" dependenciesKind=\"dependent fixed\"/><Unknown index=\"6\"/></Outputs>\n"
    "    <Derivatives><Unknown index=\"3\" dependencies=\"\"/></Derivatives>\n"
    "    <InitialUnknowns><Unknown index=\"99\" dependencies=\"1 0 99\"/></InitialUnknowns>\n"
    "  </ModelStructure>\n"
    "</fmiModelDescription>\n";

static void test_fmi2_full(void **state)
{
    (void)state;
    fmi_model *m = parse_ok(fmi2_doc);
    assert_int_equal(m->version, FMI_VERSION_2);
    assert_string_equal(m->fmi_version, "2.0");
    assert_string_equal(m->model_name, "BouncingBall");
    assert_string_equal(m->instantiation_token, "{1234}");
    assert_string_equal(m->description, "a ball");
    assert_string_equal(m->author, "me");
    assert_string_equal(m->model_version, "1.2");
    assert_string_equal(m->copyright, "(c)");
    assert_string_equal(m->license, "BSD");
    assert_string_equal(m->generation_tool, "hand");
    assert_string_equal(m->generation_date_time, "2024-01-01T00:00:00Z");
    assert_string_equal(m->variable_naming_convention, "structured");
    assert_true(m->has_number_of_event_indicators);
    assert_int_equal(m->number_of_event_indicators, 1);

    const fmi_interface_info *me = &m->interfaces[FMI_ME], *cs = &m->interfaces[FMI_CS];
    assert_true(me->present);
    assert_string_equal(me->model_identifier, "bb_me");
    assert_int_equal(me->line, 9); /* libxml2 records the line where the start tag ends */
    assert_false(me->needs_execution_tool);
    assert_true(me->completed_integrator_step_not_needed);
    assert_true(me->can_be_instantiated_only_once_per_process);
    assert_true(me->can_not_use_memory_management_functions);
    assert_true(me->can_get_and_set_fmu_state);
    assert_true(me->can_serialize_fmu_state);
    assert_true(me->provides_directional_derivatives);
    assert_true(cs->present);
    assert_string_equal(cs->model_identifier, "bb_cs");
    assert_true(cs->can_handle_variable_communication_step_size);
    assert_true(cs->can_interpolate_inputs);
    assert_int_equal(cs->max_output_derivative_order, 2);
    assert_true(cs->can_run_asynchronuously);
    assert_false(cs->can_get_and_set_fmu_state);
    assert_false(m->interfaces[FMI_SE].present);

    assert_int_equal(m->n_units, 2);
    assert_string_equal(m->units[1].name, "m/s");
    assert_int_equal(m->units[1].line, 16);
    assert_int_equal(m->n_type_defs, 2);
    assert_string_equal(m->type_defs[0].name, "Position");
    assert_int_equal(m->type_defs[0].type, FMI_FLOAT64);
    assert_string_equal(m->type_defs[0].quantity, "Length");
    assert_string_equal(m->type_defs[0].unit, "m");
    assert_true(m->type_defs[0].has_min && m->type_defs[0].has_max && m->type_defs[0].has_nominal);
    assert_true(m->type_defs[0].min == -10 && m->type_defs[0].max == 10 && m->type_defs[0].nominal == 2);
    assert_int_equal(m->type_defs[1].type, FMI_ENUMERATION);
    assert_int_equal(m->type_defs[1].n_items, 2);
    assert_string_equal(m->type_defs[1].item_names[1], "on");
    assert_int_equal(m->type_defs[1].item_values[1], 5);
    assert_int_equal(m->n_log_categories, 2);
    assert_string_equal(m->log_categories[0].description, "everything");
    assert_null(m->log_categories[1].description);
    const fmi_default_experiment *de = &m->default_experiment;
    assert_true(de->has_start_time && de->has_stop_time && de->has_tolerance && de->has_step_size);
    assert_true(de->start_time == 0.5 && de->stop_time == 3 && de->tolerance == 1e-6 && de->step_size == 0.01);

    assert_int_equal(m->n_variables, 9);
    const fmi_variable *t = var(m, "time");
    assert_int_equal(t->causality, FMI_CAUSALITY_INDEPENDENT);
    assert_int_equal(t->line, 26);
    const fmi_variable *h = var(m, "h");
    assert_int_equal(h->vr, 1);
    assert_int_equal(h->type, FMI_FLOAT64);
    assert_string_equal(h->description, "height");
    assert_int_equal(h->causality, FMI_CAUSALITY_OUTPUT);
    assert_int_equal(h->variability, FMI_VARIABILITY_CONTINUOUS);
    assert_false(h->has_variability);
    assert_int_equal(h->initial, FMI_INITIAL_EXACT);
    assert_string_equal(h->declared_type, "Position");
    assert_string_equal(h->start, "1");
    assert_true(h->reinit);
    assert_int_equal(h->derivative_of, -1);
    assert_int_equal(h->line, 27);
    const fmi_variable *dh = var(m, "der(h)");
    assert_true(dh->has_derivative_raw);
    assert_int_equal(dh->derivative_vr_raw, 2);
    assert_int_equal(dh->derivative_of, 1); /* index 2 is 1-based: "h" */
    assert_string_equal(dh->unit, "m/s");
    assert_string_equal(dh->display_unit, "km/h");
    assert_null(dh->start);
    const fmi_variable *g = var(m, "g");
    assert_int_equal(g->causality, FMI_CAUSALITY_PARAMETER);
    assert_int_equal(g->variability, FMI_VARIABILITY_FIXED);
    assert_true(g->has_variability);
    assert_true(g->can_handle_multiple_set);
    assert_string_equal(g->quantity, "Acceleration");
    assert_true(g->has_min && g->min == -100);
    assert_true(g->has_max && g->max == 0);
    assert_true(g->has_nominal && g->nominal == 9.81);
    assert_true(g->relative_quantity);
    assert_true(g->unbounded);
    assert_string_equal(g->start, "-9.81");
    const fmi_variable *n = var(m, "n");
    assert_int_equal(n->type, FMI_INT32);
    assert_int_equal(n->causality, FMI_CAUSALITY_INPUT);
    assert_int_equal(n->variability, FMI_VARIABILITY_DISCRETE); /* non-Real default */
    assert_true(n->has_min && n->min == 0 && n->has_max && n->max == 7);
    assert_string_equal(n->quantity, "count");
    assert_int_equal(var(m, "hit")->type, FMI_BOOLEAN);
    assert_string_equal(var(m, "label")->start, "hello world");
    assert_int_equal(var(m, "label")->type, FMI_STRING);
    const fmi_variable *mode = var(m, "mode");
    assert_int_equal(mode->type, FMI_ENUMERATION);
    assert_string_equal(mode->declared_type, "Mode");
    assert_int_equal(var(m, "bad_der")->derivative_of, -1); /* unresolved, not a failure */
    assert_int_equal(var(m, "bad_der")->derivative_vr_raw, 42);

    assert_int_equal(m->n_outputs, 2);
    assert_int_equal(m->outputs[0].var, 1);
    assert_int_equal(m->outputs[0].raw, 2);
    assert_true(m->outputs[0].has_dependencies);
    assert_int_equal(m->outputs[0].n_dependencies, 2);
    assert_int_equal(m->outputs[0].dependencies[0], 1);
    assert_int_equal(m->outputs[0].dependencies[1], 3);
    assert_false(m->outputs[1].has_dependencies);
    assert_int_equal(m->outputs[1].var, 5);
    assert_int_equal(m->n_derivatives, 1);
    assert_int_equal(m->derivatives[0].var, 2);
    assert_true(m->derivatives[0].has_dependencies);
    assert_int_equal(m->derivatives[0].n_dependencies, 0);
    assert_int_equal(m->n_initial_unknowns, 1);
    assert_int_equal(m->initial_unknowns[0].var, -1);
    assert_int_equal(m->initial_unknowns[0].raw, 99);
    assert_int_equal(m->initial_unknowns[0].n_dependencies, 3);
    assert_int_equal(m->initial_unknowns[0].dependencies[0], 0);
    assert_int_equal(m->initial_unknowns[0].dependencies[1], -1); /* index 0 is invalid in FMI 2 */
    assert_int_equal(m->initial_unknowns[0].dependencies[2], -1);
    assert_int_equal(m->n_event_indicators, 0);

    /* FMI 2 value-reference spaces: vr 1 is h (Real), n (Integer), hit, label */
    assert_int_equal(fmi_model_find_vr(m, FMI_FLOAT64, 1), fmi_model_find(m, "h"));
    assert_int_equal(fmi_model_find_vr(m, FMI_INT32, 1), fmi_model_find(m, "n"));
    assert_int_equal(fmi_model_find_vr(m, FMI_BOOLEAN, 1), fmi_model_find(m, "hit"));
    assert_int_equal(fmi_model_find_vr(m, FMI_STRING, 1), fmi_model_find(m, "label"));
    assert_int_equal(fmi_model_find_vr(m, FMI_INT32, 2), fmi_model_find(m, "mode")); /* Integer+Enumeration */
    assert_int_equal(fmi_model_find_vr(m, FMI_ENUMERATION, 2), fmi_model_find(m, "mode"));
    assert_int_equal(fmi_model_find_vr(m, FMI_BOOLEAN, 2), -1);
    assert_int_equal(fmi_model_find(m, "nope"), -1);
    fmi_model_free(m);
}

static const char fmi3_doc[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<fmiModelDescription fmiVersion=\"3.0\" modelName=\"All\" instantiationToken=\"{abcd}\">\n"
    "  <ModelExchange modelIdentifier=\"all\" needsCompletedIntegratorStep=\"true\" canGetAndSetFMUState=\"true\"\n"
    "    canSerializeFMUState=\"true\" providesDirectionalDerivatives=\"true\" providesAdjointDerivatives=\"true\"/>\n"
    "  <CoSimulation modelIdentifier=\"all\" canHandleVariableCommunicationStepSize=\"true\" fixedInternalStepSize=\"0.001\"\n"
    "    maxOutputDerivativeOrder=\"1\" canReturnEarlyAfterIntermediateUpdate=\"true\" hasEventMode=\"true\"\n"
    "    providesIntermediateUpdate=\"true\" mightReturnEarlyFromDoStep=\"true\"/>\n"
    "  <ScheduledExecution modelIdentifier=\"all_se\"/>\n"
    "  <UnitDefinitions><Unit name=\"s\"/></UnitDefinitions>\n"
    "  <TypeDefinitions>\n"
    "    <Float64Type name=\"T\" quantity=\"Temp\" unit=\"K\" displayUnit=\"degC\" min=\"0\" nominal=\"300\"/>\n"
    "    <Int32Type name=\"I\" max=\"9\"/>\n"
    "    <EnumerationType name=\"Color\"><Item name=\"red\" value=\"-1\"/><Item name=\"green\" value=\"2\"/><Item name=\"blue\" value=\"3\"/></EnumerationType>\n"
    "    <ClockType name=\"C\"/>\n"
    "  </TypeDefinitions>\n"
    "  <LogCategories><Category name=\"logEvents\"/></LogCategories>\n"
    "  <DefaultExperiment stopTime=\"10\"/>\n"
    "  <ModelVariables>\n"
    "    <Float64 name=\"time\" valueReference=\"0\" causality=\"independent\" variability=\"continuous\"/>\n"
    "    <Float32 name=\"f32\" valueReference=\"1\" causality=\"parameter\" variability=\"tunable\" start=\"1.5\" min=\"0\" max=\"2\"/>\n"
    "    <Int8 name=\"i8\" valueReference=\"2\" causality=\"input\" start=\"-8\"/>\n"
    "    <UInt8 name=\"u8\" valueReference=\"3\" causality=\"output\"/>\n"
    "    <Int16 name=\"i16\" valueReference=\"4\"/>\n"
    "    <UInt16 name=\"u16\" valueReference=\"5\"/>\n"
    "    <Int32 name=\"i32\" valueReference=\"6\" declaredType=\"I\" min=\"-3\"/>\n"
    "    <UInt32 name=\"u32\" valueReference=\"7\"/>\n"
    "    <Int64 name=\"i64\" valueReference=\"8\" start=\"-9000000000\"/>\n"
    "    <UInt64 name=\"n\" valueReference=\"9\" causality=\"structuralParameter\" variability=\"fixed\" start=\"4\"/>\n"
    "    <Boolean name=\"b\" valueReference=\"10\" causality=\"output\" variability=\"discrete\" clocks=\"20 21\"/>\n"
    "    <String name=\"s\" valueReference=\"11\" causality=\"parameter\" variability=\"fixed\"><Start value=\"text\"/></String>\n"
    "    <Binary name=\"bin\" valueReference=\"12\" causality=\"parameter\" variability=\"fixed\"><Start value=\"0a0B\"/></Binary>\n"
    "    <Binary name=\"bin2\" valueReference=\"13\" causality=\"parameter\" variability=\"fixed\" start=\"ff\"/>\n"
    "    <Float64 name=\"x\" valueReference=\"14\" causality=\"output\" declaredType=\"T\" start=\"1 2 3 4 5 6 7 8 9 10 11 12\" intermediateUpdate=\"true\">\n"
    "      <Dimension start=\"3\"/><Dimension valueReference=\"9\"/>\n"
    "    </Float64>\n"
    "    <Float64 name=\"der(x)\" valueReference=\"15\" derivative=\"14\" reinit=\"false\">\n"
    "      <Dimension start=\"3\"/><Dimension valueReference=\"9\"/>\n"
    "    </Float64>\n"
    "    <Int32 name=\"count\" valueReference=\"16\" causality=\"output\" variability=\"discrete\" clocks=\"20\"/>\n"
    "    <Int32 name=\"count_prev\" valueReference=\"17\" variability=\"discrete\" previous=\"16\"/>\n"
    "    <Enumeration name=\"color\" valueReference=\"18\" declaredType=\"Color\" start=\"2\" causality=\"parameter\" variability=\"tunable\"/>\n"
    "    <Float64 name=\"dangling\" valueReference=\"19\" derivative=\"777\" previous=\"778\"><Dimension valueReference=\"555\"/></Float64>\n"
    "    <Clock name=\"tick\" valueReference=\"20\" causality=\"input\" intervalVariability=\"constant\" intervalDecimal=\"0.1\"/>\n"
    "    <Clock name=\"tock\" valueReference=\"21\" causality=\"output\" intervalVariability=\"triggered\"/>\n"
    "  </ModelVariables>\n"
    "  <ModelStructure>\n"
    "    <Output valueReference=\"3\"/>\n"
    "    <Output valueReference=\"14\" dependencies=\"2 9 1000\"/>\n"
    "    <ContinuousStateDerivative valueReference=\"15\" dependencies=\"14\"/>\n"
    "    <ClockedState valueReference=\"16\"/>\n"
    "    <InitialUnknown valueReference=\"14\"/>\n"
    "    <EventIndicator valueReference=\"500\"/>\n"
    "  </ModelStructure>\n"
    "  <Annotations><Annotation type=\"x\"/></Annotations>\n"
    "  <Terminals/>\n"
    "</fmiModelDescription>\n";

static void test_fmi3_full(void **state)
{
    (void)state;
    fmi_model *m = parse_ok(fmi3_doc);
    assert_int_equal(m->version, FMI_VERSION_3);
    assert_string_equal(m->fmi_version, "3.0");
    assert_string_equal(m->instantiation_token, "{abcd}");
    assert_string_equal(m->variable_naming_convention, "flat"); /* the default */
    assert_false(m->has_number_of_event_indicators);

    const fmi_interface_info *me = &m->interfaces[FMI_ME], *cs = &m->interfaces[FMI_CS], *se = &m->interfaces[FMI_SE];
    assert_true(me->present);
    assert_false(me->completed_integrator_step_not_needed);
    assert_true(me->can_get_and_set_fmu_state);
    assert_true(me->can_serialize_fmu_state);
    assert_true(me->provides_directional_derivatives);
    assert_true(me->provides_adjoint_derivatives);
    assert_true(cs->present);
    assert_true(cs->completed_integrator_step_not_needed); /* needsCompletedIntegratorStep defaults to false */
    assert_true(cs->can_handle_variable_communication_step_size);
    assert_true(cs->has_fixed_internal_step_size);
    assert_true(cs->fixed_internal_step_size == 0.001);
    assert_int_equal(cs->max_output_derivative_order, 1);
    assert_true(cs->can_return_early_after_intermediate_update);
    assert_true(cs->has_event_mode);
    assert_true(cs->provides_intermediate_update);
    assert_true(cs->might_return_early_from_do_step);
    assert_true(se->present);
    assert_string_equal(se->model_identifier, "all_se");
    assert_false(se->has_fixed_internal_step_size);

    assert_int_equal(m->n_type_defs, 4);
    assert_int_equal(m->type_defs[0].type, FMI_FLOAT64);
    assert_string_equal(m->type_defs[0].display_unit, "degC");
    assert_true(m->type_defs[0].has_min && !m->type_defs[0].has_max && m->type_defs[0].nominal == 300);
    assert_int_equal(m->type_defs[1].type, FMI_INT32);
    assert_int_equal(m->type_defs[2].type, FMI_ENUMERATION);
    assert_int_equal(m->type_defs[2].n_items, 3);
    assert_int_equal(m->type_defs[2].item_values[0], -1);
    assert_string_equal(m->type_defs[2].item_names[2], "blue");
    assert_int_equal(m->type_defs[3].type, FMI_CLOCK);
    assert_true(m->default_experiment.has_stop_time && !m->default_experiment.has_start_time);

    assert_int_equal(m->n_variables, 22);
    static const struct {
        const char *name;
        fmi_type type;
    } types[] = {{"f32", FMI_FLOAT32}, {"i8", FMI_INT8},    {"u8", FMI_UINT8},      {"i16", FMI_INT16},
                 {"u16", FMI_UINT16},  {"i32", FMI_INT32},  {"u32", FMI_UINT32},    {"i64", FMI_INT64},
                 {"n", FMI_UINT64},    {"b", FMI_BOOLEAN},  {"s", FMI_STRING},      {"bin", FMI_BINARY},
                 {"tick", FMI_CLOCK},  {"x", FMI_FLOAT64}, {"color", FMI_ENUMERATION}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        assert_int_equal(var(m, types[i].name)->type, types[i].type);
    const fmi_variable *f32 = var(m, "f32");
    assert_string_equal(f32->start, "1.5");
    assert_int_equal(f32->variability, FMI_VARIABILITY_TUNABLE);
    assert_true(f32->has_min && f32->has_max && f32->max == 2);
    assert_int_equal(var(m, "i8")->variability, FMI_VARIABILITY_DISCRETE);
    assert_int_equal(var(m, "i32")->min, -3);
    assert_string_equal(var(m, "i32")->declared_type, "I");
    assert_string_equal(var(m, "i64")->start, "-9000000000");
    assert_int_equal(var(m, "n")->causality, FMI_CAUSALITY_STRUCTURAL_PARAMETER);
    const fmi_variable *b = var(m, "b");
    assert_int_equal(b->n_clocks, 2);
    assert_int_equal(b->clocks[0], 20);
    assert_int_equal(b->clocks[1], 21);
    assert_string_equal(var(m, "s")->start, "text");
    assert_string_equal(var(m, "bin")->start, "0a0B");
    assert_string_equal(var(m, "bin2")->start, "ff");
    const fmi_variable *x = var(m, "x");
    assert_int_equal(x->n_dims, 2);
    assert_true(x->dims[0].has_start && x->dims[0].start == 3 && !x->dims[0].has_vr);
    assert_true(x->dims[1].has_vr && x->dims[1].vr == 9 && !x->dims[1].has_start);
    assert_true(x->intermediate_update);
    assert_int_equal(fmi_variable_size(m, x), 12);
    assert_int_equal(fmi_variable_size(m, var(m, "dangling")), 0); /* vr 555 unknown */
    assert_int_equal(fmi_variable_size(m, var(m, "time")), 1);
    const fmi_variable *dx = var(m, "der(x)");
    assert_int_equal(dx->derivative_of, fmi_model_find(m, "x"));
    assert_int_equal(dx->derivative_vr_raw, 14);
    assert_false(dx->reinit);
    assert_int_equal(var(m, "count_prev")->previous, fmi_model_find(m, "count"));
    assert_int_equal(var(m, "count_prev")->previous_raw, 16);
    assert_int_equal(var(m, "count")->previous, -1);
    assert_int_equal(var(m, "dangling")->derivative_of, -1);
    assert_int_equal(var(m, "dangling")->previous, -1);
    assert_true(var(m, "dangling")->has_previous_raw);
    assert_string_equal(var(m, "color")->declared_type, "Color");
    assert_string_equal(var(m, "tick")->interval_variability, "constant");
    assert_string_equal(var(m, "tock")->interval_variability, "triggered");
    assert_null(var(m, "x")->interval_variability);

    assert_int_equal(m->n_outputs, 2);
    assert_int_equal(m->outputs[0].var, fmi_model_find(m, "u8"));
    assert_false(m->outputs[0].has_dependencies);
    assert_int_equal(m->outputs[1].n_dependencies, 3);
    assert_int_equal(m->outputs[1].dependencies[0], fmi_model_find(m, "i8"));
    assert_int_equal(m->outputs[1].dependencies[1], fmi_model_find(m, "n"));
    assert_int_equal(m->outputs[1].dependencies[2], -1);
    assert_int_equal(m->n_derivatives, 1);
    assert_int_equal(m->derivatives[0].var, fmi_model_find(m, "der(x)"));
    assert_int_equal(m->derivatives[0].dependencies[0], fmi_model_find(m, "x"));
    assert_int_equal(m->n_clocked_states, 1);
    assert_int_equal(m->clocked_states[0].var, fmi_model_find(m, "count"));
    assert_int_equal(m->n_initial_unknowns, 1);
    assert_int_equal(m->n_event_indicators, 1);
    assert_int_equal(m->event_indicators[0].var, -1);
    assert_int_equal(m->event_indicators[0].raw, 500);

    /* FMI 3 has one vr space: the type argument does not matter */
    assert_int_equal(fmi_model_find_vr(m, FMI_FLOAT64, 10), fmi_model_find(m, "b"));
    assert_int_equal(fmi_model_find_vr(m, FMI_BOOLEAN, 14), fmi_model_find(m, "x"));
    assert_int_equal(fmi_model_find_vr(m, FMI_BOOLEAN, 1234), -1);
    fmi_model_free(m);
}

static void test_defaults(void **state)
{
    (void)state;
    fmi_model *m = parse_ok("<fmiModelDescription fmiVersion=\"2.0\">"
                            "<ModelVariables><ScalarVariable name=\"v\" valueReference=\"7\"><Real/></ScalarVariable>"
                            "</ModelVariables></fmiModelDescription>");
    assert_null(m->model_name);
    assert_null(m->instantiation_token);
    assert_string_equal(m->variable_naming_convention, "flat");
    assert_false(m->interfaces[FMI_CS].present);
    assert_false(m->interfaces[FMI_ME].present);
    assert_int_equal(m->n_units + m->n_type_defs + m->n_log_categories, 0);
    assert_false(m->default_experiment.has_stop_time);
    assert_int_equal(m->n_outputs + m->n_derivatives + m->n_initial_unknowns, 0);
    const fmi_variable *v = &m->variables[0];
    assert_int_equal(m->n_variables, 1);
    assert_int_equal(v->vr, 7);
    assert_int_equal(v->causality, FMI_CAUSALITY_LOCAL);
    assert_int_equal(v->variability, FMI_VARIABILITY_CONTINUOUS);
    assert_false(v->has_variability);
    assert_int_equal(v->initial, FMI_INITIAL_UNSET);
    assert_int_equal(fmi_variable_initial(m, v), FMI_INITIAL_CALCULATED);
    assert_null(v->description);
    assert_null(v->start);
    assert_null(v->unit);
    assert_false(v->has_min || v->has_max || v->has_nominal || v->relative_quantity || v->unbounded);
    assert_int_equal(v->derivative_of, -1);
    assert_int_equal(v->previous, -1);
    assert_int_equal(v->n_dims, 0);
    assert_int_equal(fmi_variable_size(m, v), 1);
    fmi_model_free(m);

    /* no ModelVariables at all, unknown extra elements and attributes */
    m = parse_ok("<?xml version=\"1.0\"?>\n<!-- comment -->\n<fmiModelDescription fmiVersion=\"3.0-beta\" "
                 "xmlns:x=\"urn:x\" x:extra=\"1\" modelName=\"e\"><Whatever><deep/></Whatever>"
                 "<ModelStructure/></fmiModelDescription>");
    assert_int_equal(m->version, FMI_VERSION_3);
    assert_string_equal(m->fmi_version, "3.0-beta");
    assert_int_equal(m->n_variables, 0);
    fmi_model_free(m);
}

static void test_initial_tables(void **state)
{
    (void)state;
    fmi_model m2 = {.version = FMI_VERSION_2}, m3 = {.version = FMI_VERSION_3};
    static const struct {
        fmi_causality c;
        fmi_variability v;
        fmi_initial fmi2, fmi3;
    } rows[] = {
        {FMI_CAUSALITY_PARAMETER, FMI_VARIABILITY_FIXED, FMI_INITIAL_EXACT, FMI_INITIAL_EXACT},
        {FMI_CAUSALITY_PARAMETER, FMI_VARIABILITY_TUNABLE, FMI_INITIAL_EXACT, FMI_INITIAL_EXACT},
        {FMI_CAUSALITY_STRUCTURAL_PARAMETER, FMI_VARIABILITY_FIXED, FMI_INITIAL_EXACT, FMI_INITIAL_EXACT},
        {FMI_CAUSALITY_CALCULATED_PARAMETER, FMI_VARIABILITY_FIXED, FMI_INITIAL_CALCULATED, FMI_INITIAL_CALCULATED},
        {FMI_CAUSALITY_CALCULATED_PARAMETER, FMI_VARIABILITY_TUNABLE, FMI_INITIAL_CALCULATED, FMI_INITIAL_CALCULATED},
        {FMI_CAUSALITY_INPUT, FMI_VARIABILITY_CONTINUOUS, FMI_INITIAL_UNSET, FMI_INITIAL_EXACT},
        {FMI_CAUSALITY_INPUT, FMI_VARIABILITY_DISCRETE, FMI_INITIAL_UNSET, FMI_INITIAL_EXACT},
        {FMI_CAUSALITY_OUTPUT, FMI_VARIABILITY_CONSTANT, FMI_INITIAL_EXACT, FMI_INITIAL_EXACT},
        {FMI_CAUSALITY_OUTPUT, FMI_VARIABILITY_DISCRETE, FMI_INITIAL_CALCULATED, FMI_INITIAL_CALCULATED},
        {FMI_CAUSALITY_OUTPUT, FMI_VARIABILITY_CONTINUOUS, FMI_INITIAL_CALCULATED, FMI_INITIAL_CALCULATED},
        {FMI_CAUSALITY_LOCAL, FMI_VARIABILITY_CONSTANT, FMI_INITIAL_EXACT, FMI_INITIAL_EXACT},
        {FMI_CAUSALITY_LOCAL, FMI_VARIABILITY_FIXED, FMI_INITIAL_CALCULATED, FMI_INITIAL_CALCULATED},
        {FMI_CAUSALITY_LOCAL, FMI_VARIABILITY_TUNABLE, FMI_INITIAL_CALCULATED, FMI_INITIAL_CALCULATED},
        {FMI_CAUSALITY_LOCAL, FMI_VARIABILITY_DISCRETE, FMI_INITIAL_CALCULATED, FMI_INITIAL_CALCULATED},
        {FMI_CAUSALITY_LOCAL, FMI_VARIABILITY_CONTINUOUS, FMI_INITIAL_CALCULATED, FMI_INITIAL_CALCULATED},
        {FMI_CAUSALITY_INDEPENDENT, FMI_VARIABILITY_CONTINUOUS, FMI_INITIAL_UNSET, FMI_INITIAL_UNSET},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        fmi_variable v = {.causality = rows[i].c, .variability = rows[i].v};
        assert_int_equal(fmi_variable_initial(&m2, &v), rows[i].fmi2);
        assert_int_equal(fmi_variable_initial(&m3, &v), rows[i].fmi3);
        v.initial = FMI_INITIAL_APPROX; /* a written value always wins */
        assert_int_equal(fmi_variable_initial(&m2, &v), FMI_INITIAL_APPROX);
    }
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(fmi_type_name(FMI_VERSION_2, FMI_FLOAT64), "Real");
    assert_string_equal(fmi_type_name(FMI_VERSION_2, FMI_INT32), "Integer");
    assert_string_equal(fmi_type_name(FMI_VERSION_3, FMI_FLOAT64), "Float64");
    assert_string_equal(fmi_type_name(FMI_VERSION_3, FMI_UINT16), "UInt16");
    assert_string_equal(fmi_type_name(FMI_VERSION_3, FMI_ENUMERATION), "Enumeration");
    assert_string_equal(fmi_causality_name(FMI_CAUSALITY_CALCULATED_PARAMETER), "calculatedParameter");
    assert_string_equal(fmi_causality_name(FMI_CAUSALITY_STRUCTURAL_PARAMETER), "structuralParameter");
    assert_string_equal(fmi_variability_name(FMI_VARIABILITY_TUNABLE), "tunable");
    assert_string_equal(fmi_initial_name(FMI_INITIAL_APPROX), "approx");
    assert_string_equal(fmi_interface_name(FMI_CS), "CoSimulation");
    assert_string_equal(fmi_interface_name(FMI_ME), "ModelExchange");
    assert_string_equal(fmi_interface_name(FMI_SE), "ScheduledExecution");
}

static void test_bad_documents(void **state)
{
    (void)state;
    parse_fails("<fmiModelDescription fmiVersion=\"2.0\">\n<ModelVariables>\n</fmiModelDescription>",
                FMUGW_EINVALID, "modelDescription.xml:3: not well-formed XML: ");
    parse_fails("", FMUGW_EINVALID, "modelDescription.xml:");
    parse_fails("\n<foo fmiVersion=\"2.0\"/>", FMUGW_EINVALID,
                "modelDescription.xml:2: root element is <foo>, expected <fmiModelDescription>");
    parse_fails("<fmiModelDescription fmiVersion=\"1.0\"/>", FMUGW_EINVALID,
                "modelDescription.xml:1: unsupported fmiVersion \"1.0\"");
    parse_fails("<fmiModelDescription fmiVersion=\"2.1\"/>", FMUGW_EINVALID, "unsupported fmiVersion \"2.1\"");
    parse_fails("<fmiModelDescription modelName=\"x\"/>", FMUGW_EINVALID, "modelDescription.xml:1: fmiVersion missing");
    parse_fails("<fmiModelDescription fmiVersion=\"2.0\"><ModelVariables>\n"
                "<ScalarVariable valueReference=\"1\"><Real/></ScalarVariable>\n"
                "\n<ScalarVariable valueReference=\"2\"><Real/></ScalarVariable>\n"
                "</ModelVariables></fmiModelDescription>",
                FMUGW_EINVALID, "modelDescription.xml:2: variable without a name");
    parse_fails("<fmiModelDescription fmiVersion=\"2.0\"><ModelVariables>\n\n\n"
                "<ScalarVariable name=\"a\"><Real/></ScalarVariable>\n"
                "</ModelVariables></fmiModelDescription>",
                FMUGW_EINVALID, "modelDescription.xml:4: variable \"a\" has no valueReference");
    parse_fails("<fmiModelDescription fmiVersion=\"3.0\"><ModelVariables>"
                "<Float64 name=\"a\" valueReference=\"-1\"/></ModelVariables></fmiModelDescription>",
                FMUGW_EINVALID, "variable \"a\": invalid valueReference \"-1\"");
    parse_fails("<fmiModelDescription fmiVersion=\"2.0\"><ModelVariables>"
                "<ScalarVariable name=\"a\" valueReference=\"1\"><Real64/></ScalarVariable></ModelVariables></fmiModelDescription>",
                FMUGW_EINVALID, "variable \"a\": unknown type element <Real64>");
    parse_fails("<fmiModelDescription fmiVersion=\"2.0\"><ModelVariables>"
                "<ScalarVariable name=\"a\" valueReference=\"1\"/></ModelVariables></fmiModelDescription>",
                FMUGW_EINVALID, "variable \"a\" has no type element");
    parse_fails("<fmiModelDescription fmiVersion=\"3.0\"><ModelVariables>\n"
                "<Float128 name=\"q\" valueReference=\"1\"/></ModelVariables></fmiModelDescription>",
                FMUGW_EINVALID, "modelDescription.xml:2: variable \"q\": unknown type element <Float128>");
    parse_fails("<fmiModelDescription fmiVersion=\"2.0\"><ModelVariables>"
                "<ScalarVariable name=\"a\" valueReference=\"1\" causality=\"sideways\"><Real/></ScalarVariable>"
                "</ModelVariables></fmiModelDescription>",
                FMUGW_EINVALID, "variable \"a\": unknown causality \"sideways\"");
    /* a FMI 3 Real is not a type */
    parse_fails("<fmiModelDescription fmiVersion=\"3.0\"><ModelVariables>"
                "<Real name=\"r\" valueReference=\"1\"/></ModelVariables></fmiModelDescription>",
                FMUGW_EINVALID, "unknown type element <Real>");
}

static void test_xml_bombs(void **state)
{
    (void)state;
    parse_fails("<?xml version=\"1.0\"?>\n"
                "<!DOCTYPE lolz [\n"
                " <!ENTITY lol \"lol\">\n"
                " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
                " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
                " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
                " <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
                " <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
                " <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
                " <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
                " <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
                " <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
                "]>\n"
                "<fmiModelDescription fmiVersion=\"2.0\" modelName=\"&lol9;\"/>\n",
                FMUGW_EINVALID, "modelDescription.xml:2: DOCTYPE/entity declarations are not allowed");
    /* external entity (XXE) */
    parse_fails("<?xml version=\"1.0\"?>\n<!DOCTYPE fmiModelDescription SYSTEM \"file:///etc/passwd\">\n"
                "<fmiModelDescription fmiVersion=\"2.0\"/>",
                FMUGW_EINVALID, "DOCTYPE/entity declarations are not allowed");
    /* a harmless-looking DOCTYPE is refused too */
    parse_fails("<!DOCTYPE fmiModelDescription>\n<fmiModelDescription fmiVersion=\"2.0\"/>", FMUGW_EINVALID,
                "DOCTYPE/entity declarations are not allowed");
    /* predefined entities and character references are plain XML */
    fmi_model *m = parse_ok("<fmiModelDescription fmiVersion=\"2.0\" modelName=\"a&amp;b&#x41;&lt;\"/>");
    assert_string_equal(m->model_name, "a&bA<");
    fmi_model_free(m);
}

static void test_non_ascii(void **state)
{
    (void)state;
    fmi_model *m = parse_ok("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                            "<fmiModelDescription fmiVersion=\"3.0\" modelName=\"Wärmetauscher\" "
                            "description=\"温度 ✓\"><ModelVariables>"
                            "<Float64 name=\"T_ü\" valueReference=\"1\" description=\"Température\" unit=\"°C\"/>"
                            "</ModelVariables></fmiModelDescription>");
    assert_string_equal(m->model_name, "W\xc3\xa4rmetauscher");
    assert_string_equal(m->description, "\xe6\xb8\xa9\xe5\xba\xa6 \xe2\x9c\x93");
    assert_int_equal(fmi_model_find(m, "T_\xc3\xbc"), 0);
    assert_string_equal(m->variables[0].description, "Temp\xc3\xa9rature");
    assert_string_equal(m->variables[0].unit, "\xc2\xb0" "C");
    fmi_model_free(m);

    /* ISO-8859-1 is converted to UTF-8 */
    m = parse_ok("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n"
                 "<fmiModelDescription fmiVersion=\"2.0\" modelName=\"W\xe4rme\"/>");
    assert_string_equal(m->model_name, "W\xc3\xa4rme");
    fmi_model_free(m);
}

/* Appends to a growing buffer; fails the test on OOM. */
static void append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
        va_end(ap);
        assert_true(n >= 0);
        if ((size_t)n < *cap - *len) {
            *len += (size_t)n;
            return;
        }
        *cap *= 2;
        *buf = realloc(*buf, *cap);
        assert_non_null(*buf);
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* 20,000 variables (10,000 states and their derivatives), FMI 3 and 2. */
static void test_large_model(void **state)
{
    (void)state;
    enum { N = 10000 };
    for (int version = 2; version <= 3; version++) {
        size_t len = 0, cap = 1 << 16;
        char *xml = malloc(cap);
        assert_non_null(xml);
        append(&xml, &len, &cap, "<fmiModelDescription fmiVersion=\"%s\" modelName=\"big\">\n<ModelVariables>\n",
               version == 2 ? "2.0" : "3.0");
        for (int i = 0; i < N; i++) {
            /* vrs are shuffled so the FMI 3 lookup cannot rely on order */
            unsigned vx = (unsigned)(i * 7919) % (2 * N), vd = (unsigned)(i * 7919 + N) % (2 * N);
            if (version == 2)
                append(&xml, &len, &cap,
                       "<ScalarVariable name=\"x%d\" valueReference=\"%u\" causality=\"output\"><Real start=\"%d\"/></ScalarVariable>\n"
                       "<ScalarVariable name=\"der(x%d)\" valueReference=\"%u\"><Real derivative=\"%d\"/></ScalarVariable>\n",
                       i, vx, i, i, vd, 2 * i + 1);
            else
                append(&xml, &len, &cap,
                       "<Float64 name=\"x%d\" valueReference=\"%u\" causality=\"output\" start=\"%d\"/>\n"
                       "<Float64 name=\"der(x%d)\" valueReference=\"%u\" derivative=\"%u\"/>\n",
                       i, vx, i, i, vd, vx);
        }
        append(&xml, &len, &cap, "</ModelVariables>\n<ModelStructure>%s\n", version == 2 ? "<Derivatives>" : "");
        for (int i = 0; i < N; i++) {
            unsigned vx = (unsigned)(i * 7919) % (2 * N), vd = (unsigned)(i * 7919 + N) % (2 * N);
            if (version == 2)
                append(&xml, &len, &cap, "<Unknown index=\"%d\" dependencies=\"%d\"/>\n", 2 * i + 2, 2 * i + 1);
            else
                append(&xml, &len, &cap, "<ContinuousStateDerivative valueReference=\"%u\" dependencies=\"%u\"/>\n", vd,
                       vx);
        }
        append(&xml, &len, &cap, "%s</ModelStructure>\n</fmiModelDescription>\n", version == 2 ? "</Derivatives>" : "");

        fmi_model *m = NULL;
        double t0 = now();
        int rc = fmi_model_parse_buffer(&m, xml, len);
        double dt = now() - t0;
        if (rc)
            fail_msg("%s", fmugw_error_last());
        assert_true(dt < 2.0); /* typically ~50 ms; generous for sanitizer builds */
        assert_int_equal(m->n_variables, 2 * N);
        for (int i = 0; i < N; i++) {
            const fmi_variable *d = &m->variables[2 * i + 1];
            assert_int_equal(d->derivative_of, 2 * i);
        }
        assert_int_equal(m->variables[2 * N - 1].line, 2 * N + 2);
        assert_int_equal(m->n_derivatives, N);
        for (int i = 0; i < N; i++) {
            assert_int_equal(m->derivatives[i].var, 2 * i + 1);
            assert_int_equal(m->derivatives[i].n_dependencies, 1);
            assert_int_equal(m->derivatives[i].dependencies[0], 2 * i);
        }
        fmi_model_free(m);
        free(xml);
    }
}

/* Line numbers past 65535 are kept (libxml2 stores 16 bits unless asked). */
static void test_big_line_numbers(void **state)
{
    (void)state;
    size_t n = 70000;
    const char *head = "<fmiModelDescription fmiVersion=\"3.0\"><ModelVariables>";
    const char *tail = "<Float64 name=\"a\"/></ModelVariables></fmiModelDescription>";
    size_t len = strlen(head) + n + strlen(tail);
    char *xml = malloc(len + 1);
    assert_non_null(xml);
    strcpy(xml, head);
    memset(xml + strlen(head), '\n', n);
    strcpy(xml + strlen(head) + n, tail);
    fmi_model *m = NULL;
    assert_int_equal(fmi_model_parse_buffer(&m, xml, len), FMUGW_EINVALID);
    assert_string_equal(fmugw_error_last(), "modelDescription.xml:70001: variable \"a\" has no valueReference");
    free(xml);
}

static void test_parse_file(void **state)
{
    (void)state;
    fmi_model *m = NULL;
    assert_int_equal(fmi_model_parse(&m, "/nonexistent/modelDescription.xml"), FMUGW_ENOTFOUND);
    assert_null(m);

    char *dir = NULL;
    assert_int_equal(fmugw_mkdtemp(&dir, "fmugw-test-model-"), 0);
    char *path = fmugw_path_join(dir, "modelDescription.xml");
    assert_non_null(path);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(fmi3_doc, f);
    fclose(f);
    assert_int_equal(fmi_model_parse(&m, path), 0);
    assert_string_equal(m->model_name, "All");
    fmi_model_free(m);
    fmi_model_free(NULL);
    fmugw_rmtree(dir);
    free(path);
    free(dir);

    assert_int_equal(fmi_model_parse_buffer(&m, "<x/>", FMI_MODEL_XML_CAP + 1), FMUGW_ETOOBIG);
}

/* The caps of model.h: an element with 200,000 attributes (libxml2's
 * duplicate check is quadratic in them), too many elements, too many
 * variables. Each is refused as FMUGW_ETOOBIG with the cap named, before
 * libxml2 builds a tree; one at the cap still parses. Attribute-like text
 * in comments, CDATA and quoted values is not counted. */
static void test_caps(void **state)
{
    (void)state;
    fmi_model *m = NULL;
    size_t len = 0, cap = 1 << 16;
    char *xml = malloc(cap);
    assert_non_null(xml);

    append(&xml, &len, &cap, "<fmiModelDescription fmiVersion=\"2.0\" modelName=\"m\" guid=\"g\">\n<ModelVariables>\n"
                             "<ScalarVariable name=\"x\" valueReference=\"0\"><Real");
    for (int i = 0; i < 200000; i++)
        append(&xml, &len, &cap, " a%d=\"\"", i);
    append(&xml, &len, &cap, "/></ScalarVariable>\n</ModelVariables>\n</fmiModelDescription>\n");
    assert_true(len > 500000);
    assert_int_equal(fmi_model_parse_buffer(&m, xml, len), FMUGW_ETOOBIG);
    assert_null(m);
    assert_non_null(strstr(fmugw_error_last(), "modelDescription.xml:3: an element has more than 128 attributes"));

    /* 128 attributes pass (unknown ones are ignored), '=' in values,
     * comments and CDATA does not count */
    len = 0;
    append(&xml, &len, &cap, "<fmiModelDescription fmiVersion=\"2.0\" modelName=\"a=b=c\" guid=\"g\">\n"
                             "<!-- %s -->\n<ModelVariables>\n<ScalarVariable name=\"x\" valueReference=\"0\">"
                             "<Annotations><![CDATA[ %s ]]></Annotations><Real",
           "x=1 y=2 z=3 ==== ====", "a=b ====");
    for (int i = 0; i < FMI_MODEL_MAX_ATTRIBUTES; i++)
        append(&xml, &len, &cap, " a%d='=='", i);
    append(&xml, &len, &cap, "/></ScalarVariable>\n</ModelVariables>\n</fmiModelDescription>\n");
    if (fmi_model_parse_buffer(&m, xml, len) != 0)
        fail_msg("%s", fmugw_error_last());
    assert_int_equal(m->n_variables, 1);
    fmi_model_free(m);
    m = NULL;

    /* more variables than FMI_MODEL_MAX_VARIABLES */
    len = 0;
    append(&xml, &len, &cap, "<fmiModelDescription fmiVersion=\"3.0\" modelName=\"m\" instantiationToken=\"t\">\n"
                             "<ModelVariables>\n");
    for (size_t i = 0; i <= FMI_MODEL_MAX_VARIABLES; i++)
        append(&xml, &len, &cap, "<Float64 name=\"v%zu\" valueReference=\"%zu\"/>\n", i, i);
    append(&xml, &len, &cap, "</ModelVariables>\n</fmiModelDescription>\n");
    assert_int_equal(fmi_model_parse_buffer(&m, xml, len), FMUGW_ETOOBIG);
    assert_non_null(strstr(fmugw_error_last(), "100001 variables, over the limit of 100000"));

    /* more elements than FMI_MODEL_MAX_ELEMENTS, refused by the pre-scan */
    len = 0;
    append(&xml, &len, &cap, "<fmiModelDescription fmiVersion=\"3.0\">\n");
    for (size_t i = 0; i < FMI_MODEL_MAX_ELEMENTS; i++)
        append(&xml, &len, &cap, "<a/>");
    append(&xml, &len, &cap, "</fmiModelDescription>\n");
    assert_int_equal(fmi_model_parse_buffer(&m, xml, len), FMUGW_ETOOBIG);
    assert_non_null(strstr(fmugw_error_last(), "more than 1000000 elements"));
    free(xml);
}

/* fmi_model_find / fmi_model_find_vr go through the hash index and give
 * what a linear search gives: the first variable of a duplicated name or
 * value reference, -1 for unknown ones, FMI 2's separate vr spaces. */
static void test_index(void **state)
{
    (void)state;
    static const char doc[] =
        "<fmiModelDescription fmiVersion=\"2.0\" modelName=\"m\" guid=\"g\"><ModelVariables>"
        "<ScalarVariable name=\"a\" valueReference=\"1\"><Real/></ScalarVariable>"
        "<ScalarVariable name=\"b\" valueReference=\"1\"><Integer/></ScalarVariable>"
        "<ScalarVariable name=\"a\" valueReference=\"2\"><Real/></ScalarVariable>"
        "<ScalarVariable name=\"c\" valueReference=\"1\"><Real/></ScalarVariable>"
        "<ScalarVariable name=\"e\" valueReference=\"1\"><Enumeration declaredType=\"E\"/></ScalarVariable>"
        "</ModelVariables></fmiModelDescription>";
    fmi_model *m = NULL;
    if (fmi_model_parse_buffer(&m, doc, sizeof doc - 1) != 0)
        fail_msg("%s", fmugw_error_last());
    assert_non_null(m->index);
    assert_int_equal(fmi_model_find(m, "a"), 0);
    assert_int_equal(fmi_model_find(m, "b"), 1);
    assert_int_equal(fmi_model_find(m, "c"), 3);
    assert_int_equal(fmi_model_find(m, "d"), -1);
    assert_int_equal(fmi_model_find(m, ""), -1);
    assert_int_equal(fmi_model_find_vr(m, FMI_FLOAT64, 1), 0);
    assert_int_equal(fmi_model_find_vr(m, FMI_INT32, 1), 1);
    assert_int_equal(fmi_model_find_vr(m, FMI_ENUMERATION, 1), 1); /* Integer and Enumeration share a space */
    assert_int_equal(fmi_model_find_vr(m, FMI_FLOAT64, 2), 2);
    assert_int_equal(fmi_model_find_vr(m, FMI_BOOLEAN, 1), -1);
    assert_int_equal(fmi_model_find_vr(m, FMI_FLOAT64, 3), -1);

    /* the same answers from a model without an index (linear) */
    struct fmi_model_index *ix = m->index;
    m->index = NULL;
    assert_int_equal(fmi_model_find(m, "a"), 0);
    assert_int_equal(fmi_model_find(m, "c"), 3);
    assert_int_equal(fmi_model_find_vr(m, FMI_INT32, 1), 1);
    m->index = ix;
    fmi_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmi2_full),
        cmocka_unit_test(test_fmi3_full),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_initial_tables),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_bad_documents),
        cmocka_unit_test(test_xml_bombs),
        cmocka_unit_test(test_non_ascii),
        cmocka_unit_test(test_large_model),
        cmocka_unit_test(test_big_line_numbers),
        cmocka_unit_test(test_parse_file),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
