/*
 * test_validate.c - unit tests of the FMU validator (src/fmi/validate.c).
 *
 * A correct FMI 2 and a correct FMI 3 model description must give no
 * problem; each test then breaks one rule in a copy of it (a textual
 * replacement) and checks that the rule id is reported at the element's
 * line. The FMU-level tests validate the built sample FMUs (which must be
 * clean) and zips made here with libzip that lack the binary or the XML.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fmi/model.h"
#include "fmi/validate.h"
#include "util/error.h"
#include "util/fsutil.h"

#include <dirent.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

/* ------------------------------------------------------------------ */
/* documents                                                            */

static const char FMI2[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<fmiModelDescription fmiVersion=\"2.0\" modelName=\"BouncingBall\" guid=\"{1234}\" "
    "variableNamingConvention=\"structured\" numberOfEventIndicators=\"1\">\n"
    "<CoSimulation modelIdentifier=\"BouncingBall\"/>\n"
    "<ModelExchange modelIdentifier=\"BouncingBall\"/>\n"
    "<UnitDefinitions>\n"
    "<Unit name=\"m\"/>\n"
    "<Unit name=\"m/s\"/>\n"
    "<Unit name=\"m/s2\"/>\n"
    "</UnitDefinitions>\n"
    "<TypeDefinitions>\n"
    "<SimpleType name=\"Position\"><Real quantity=\"Position\" unit=\"m\"/></SimpleType>\n"
    "<SimpleType name=\"Mode\"><Enumeration><Item name=\"a\" value=\"1\"/><Item name=\"b\" value=\"2\"/></Enumeration></SimpleType>\n"
    "</TypeDefinitions>\n"
    "<DefaultExperiment startTime=\"0\" stopTime=\"3\" tolerance=\"1e-6\" stepSize=\"0.01\"/>\n"
    "<ModelVariables>\n"
    "<ScalarVariable name=\"time\" valueReference=\"0\" causality=\"independent\" variability=\"continuous\"><Real/></ScalarVariable>\n"
    "<ScalarVariable name=\"h\" valueReference=\"1\" causality=\"output\" variability=\"continuous\" initial=\"exact\"><Real declaredType=\"Position\" start=\"1\" min=\"0\"/></ScalarVariable>\n"
    "<ScalarVariable name=\"der(h)\" valueReference=\"2\" causality=\"local\" variability=\"continuous\"><Real unit=\"m/s\" derivative=\"2\"/></ScalarVariable>\n"
    "<ScalarVariable name=\"v\" valueReference=\"3\" causality=\"output\" variability=\"continuous\" initial=\"exact\"><Real unit=\"m/s\" start=\"0\"/></ScalarVariable>\n"
    "<ScalarVariable name=\"der(v)\" valueReference=\"4\" causality=\"local\" variability=\"continuous\"><Real unit=\"m/s2\" derivative=\"4\"/></ScalarVariable>\n"
    "<ScalarVariable name=\"g\" valueReference=\"5\" causality=\"parameter\" variability=\"fixed\" initial=\"exact\"><Real unit=\"m/s2\" start=\"-9.81\" max=\"0\"/></ScalarVariable>\n"
    "<ScalarVariable name=\"e\" valueReference=\"6\" causality=\"parameter\" variability=\"tunable\" initial=\"exact\"><Real start=\"0.7\" min=\"0.5\" max=\"1\" nominal=\"1\"/></ScalarVariable>\n"
    "<ScalarVariable name=\"count\" valueReference=\"0\" causality=\"output\" variability=\"discrete\"><Integer/></ScalarVariable>\n"
    "<ScalarVariable name=\"mode\" valueReference=\"1\" causality=\"input\" variability=\"discrete\"><Enumeration declaredType=\"Mode\" start=\"1\"/></ScalarVariable>\n"
    "<ScalarVariable name=\"on\" valueReference=\"0\" causality=\"input\" variability=\"discrete\"><Boolean start=\"true\"/></ScalarVariable>\n"
    "<ScalarVariable name=\"label\" valueReference=\"0\" causality=\"parameter\" variability=\"fixed\"><String start=\"x y\"/></ScalarVariable>\n"
    "<ScalarVariable name=\"k\" valueReference=\"7\" causality=\"calculatedParameter\" variability=\"fixed\"><Real/></ScalarVariable>\n"
    "</ModelVariables>\n"
    "<ModelStructure>\n"
    "<Outputs>\n"
    "<Unknown index=\"2\"/>\n"
    "<Unknown index=\"4\"/>\n"
    "<Unknown index=\"8\" dependencies=\"\"/>\n"
    "</Outputs>\n"
    "<Derivatives>\n"
    "<Unknown index=\"3\" dependencies=\"4\"/>\n"
    "<Unknown index=\"5\" dependencies=\"\"/>\n"
    "</Derivatives>\n"
    "<InitialUnknowns>\n"
    "<Unknown index=\"3\"/>\n"
    "<Unknown index=\"5\"/>\n"
    "<Unknown index=\"8\"/>\n"
    "<Unknown index=\"12\"/>\n"
    "</InitialUnknowns>\n"
    "</ModelStructure>\n"
    "</fmiModelDescription>\n";

static const char FMI3[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<fmiModelDescription fmiVersion=\"3.0\" modelName=\"Dahlquist\" instantiationToken=\"{abcd}\" "
    "variableNamingConvention=\"flat\">\n"
    "<ModelExchange modelIdentifier=\"Dahlquist\"/>\n"
    "<CoSimulation modelIdentifier=\"Dahlquist\"/>\n"
    "<UnitDefinitions>\n"
    "<Unit name=\"s\"/>\n"
    "</UnitDefinitions>\n"
    "<TypeDefinitions>\n"
    "<Float64Type name=\"Time\" unit=\"s\"/>\n"
    "</TypeDefinitions>\n"
    "<DefaultExperiment startTime=\"0\" stopTime=\"10\" stepSize=\"0.1\"/>\n"
    "<ModelVariables>\n"
    "<Float64 name=\"time\" valueReference=\"0\" causality=\"independent\" variability=\"continuous\" declaredType=\"Time\"/>\n"
    "<Float64 name=\"x\" valueReference=\"1\" causality=\"output\" variability=\"continuous\" initial=\"exact\" start=\"1\"/>\n"
    "<Float64 name=\"der(x)\" valueReference=\"2\" causality=\"local\" variability=\"continuous\" derivative=\"1\"/>\n"
    "<Float64 name=\"k\" valueReference=\"3\" causality=\"parameter\" variability=\"fixed\" start=\"1\"/>\n"
    "<UInt64 name=\"n\" valueReference=\"4\" causality=\"structuralParameter\" variability=\"fixed\" start=\"3\"/>\n"
    "<Float64 name=\"u\" valueReference=\"5\" causality=\"input\" start=\"0 0 0\"><Dimension valueReference=\"4\"/></Float64>\n"
    "<Float64 name=\"z\" valueReference=\"6\" causality=\"local\" variability=\"continuous\"/>\n"
    "<Clock name=\"tick\" valueReference=\"8\" causality=\"input\" intervalVariability=\"triggered\"/>\n"
    "<Int32 name=\"cnt\" valueReference=\"9\" causality=\"output\" variability=\"discrete\" clocks=\"8\" initial=\"exact\" start=\"0\"/>\n"
    "</ModelVariables>\n"
    "<ModelStructure>\n"
    "<Output valueReference=\"1\"/>\n"
    "<Output valueReference=\"9\"/>\n"
    "<ContinuousStateDerivative valueReference=\"2\"/>\n"
    "<InitialUnknown valueReference=\"2\"/>\n"
    "<EventIndicator valueReference=\"6\"/>\n"
    "</ModelStructure>\n"
    "</fmiModelDescription>\n";

/* ------------------------------------------------------------------ */
/* helpers                                                              */

/* A copy of `doc` with the first `from` replaced by `to` (which must occur). */
static char *replace(const char *doc, const char *from, const char *to)
{
    const char *at = strstr(doc, from);
    if (!at)
        fail_msg("test bug: \"%s\" not in the document", from);
    size_t n = strlen(doc) - strlen(from) + strlen(to);
    char *out = malloc(n + 1);
    assert_non_null(out);
    size_t pre = (size_t)(at - doc);
    memcpy(out, doc, pre);
    strcpy(out + pre, to);
    strcat(out, at + strlen(from));
    return out;
}

/* 1-based line of the first occurrence of `needle` in `doc`. */
static int line_of(const char *doc, const char *needle)
{
    const char *at = strstr(doc, needle);
    if (!at)
        fail_msg("test bug: \"%s\" not in the document", needle);
    int line = 1;
    for (const char *p = doc; p < at; p++)
        line += *p == '\n';
    return line;
}

static fmi_model *parse(const char *doc)
{
    fmi_model *m = NULL;
    int rc = fmi_model_parse_buffer(&m, doc, strlen(doc));
    if (rc != 0)
        fail_msg("parse failed (%d): %s", rc, fmugw_error_last());
    return m;
}

static fmi_report *validate_model(const fmi_model *m)
{
    fmi_report *rep = calloc(1, sizeof *rep);
    assert_non_null(rep);
    assert_int_equal(fmi_validate_model(rep, m, NULL), 0);
    return rep;
}

static fmi_report *validate_doc(const char *doc)
{
    fmi_model *m = parse(doc);
    fmi_report *rep = validate_model(m);
    fmi_model_free(m);
    return rep;
}

static size_t count_rule(const fmi_report *rep, const char *rule)
{
    size_t n = 0;
    for (size_t i = 0; i < rep->n_problems; i++)
        n += strcmp(rep->problems[i].rule, rule) == 0;
    return n;
}

static const fmi_problem *find_rule(const fmi_report *rep, const char *rule)
{
    for (size_t i = 0; i < rep->n_problems; i++)
        if (strcmp(rep->problems[i].rule, rule) == 0)
            return &rep->problems[i];
    return NULL;
}

static void dump(const fmi_report *rep)
{
    fprintf(stderr, "report (%zu problems):\n", rep->n_problems);
    fmi_report_print(rep, stderr);
}

/* The expected "where" of a problem about the variable named `var` whose
 * element contains `needle` (or the root location when needle is NULL). */
static char *where_var(const char *doc, const char *needle, const char *var)
{
    char *w = NULL;
    assert_true(asprintf(&w, "modelDescription.xml:%d (variable '%s')", line_of(doc, needle), var) > 0);
    return w;
}

static char *where_line(const char *doc, const char *needle)
{
    char *w = NULL;
    assert_true(asprintf(&w, "modelDescription.xml:%d", line_of(doc, needle)) > 0);
    return w;
}

/* Checks `rule` is reported exactly once, at `where`; if `only`, that it is
 * the only problem. Frees `doc` and `where`. */
static void expect(char *doc, const char *rule, char *where, bool only)
{
    fmi_report *rep = validate_doc(doc);
    const fmi_problem *p = find_rule(rep, rule);
    if (!p || count_rule(rep, rule) != 1 || (only && rep->n_problems != 1) ||
        (where && strcmp(p->where, where) != 0)) {
        dump(rep);
        fail_msg("expected %s%s once at %s", only ? "only " : "", rule, where ? where : "(any)");
    }
    assert_non_null(p->message);
    assert_true(strlen(p->message) > 0);
    assert_null(strchr(p->message, '\n'));
    fmi_report_free(rep);
    free(doc);
    free(where);
}

/* Breaks FMI 2 by replacing `from` with `to`; the problem is expected on the
 * variable whose element contains `locate` (in the broken document). */
static void expect2_var(const char *from, const char *to, const char *rule, const char *locate, const char *var,
                        bool only)
{
    char *doc = replace(FMI2, from, to);
    expect(doc, rule, where_var(doc, locate, var), only);
}

static void expect3_var(const char *from, const char *to, const char *rule, const char *locate, const char *var,
                        bool only)
{
    char *doc = replace(FMI3, from, to);
    expect(doc, rule, where_var(doc, locate, var), only);
}

static void expect2_line(const char *from, const char *to, const char *rule, const char *locate, bool only)
{
    char *doc = replace(FMI2, from, to);
    expect(doc, rule, locate ? where_line(doc, locate) : strdup("modelDescription.xml"), only);
}

static void expect3_line(const char *from, const char *to, const char *rule, const char *locate, bool only)
{
    char *doc = replace(FMI3, from, to);
    expect(doc, rule, locate ? where_line(doc, locate) : strdup("modelDescription.xml"), only);
}

/* ------------------------------------------------------------------ */
/* correct documents                                                    */

static void test_fmi2_valid(void **state)
{
    (void)state;
    fmi_report *rep = validate_doc(FMI2);
    if (rep->n_problems)
        dump(rep);
    assert_int_equal(rep->n_problems, 0);
    fmi_report_free(rep);
}

static void test_fmi3_valid(void **state)
{
    (void)state;
    fmi_report *rep = validate_doc(FMI3);
    if (rep->n_problems)
        dump(rep);
    assert_int_equal(rep->n_problems, 0);
    fmi_report_free(rep);
}

/* FMI 2 aliases (same type class and value reference) are legal when they
 * agree; and equal value references of different type classes are no alias. */
static void test_fmi2_alias_allowed(void **state)
{
    (void)state;
    char *doc = replace(FMI2, "name=\"k\" valueReference=\"7\"", "name=\"k\" valueReference=\"5\"");
    fmi_report *rep = validate_doc(doc);
    if (rep->n_problems)
        dump(rep);
    assert_int_equal(rep->n_problems, 0);
    fmi_report_free(rep);
    free(doc);
}

/* ------------------------------------------------------------------ */
/* model attributes                                                     */

static void test_attributes_in_struct(void **state)
{
    (void)state;
    struct {
        const char *rule;
        int what;
    } cases[] = {
        { "model-name-required", 0 },
        { "instantiation-token-required", 1 },
        { "fmi-version", 2 },
        { "interface-required", 3 },
        { "model-identifier-invalid", 4 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fmi_model *m = parse(i % 2 ? FMI3 : FMI2);
        switch (cases[i].what) {
        case 0:
            free(m->model_name);
            m->model_name = NULL;
            break;
        case 1:
            m->instantiation_token[0] = '\0';
            break;
        case 2:
            free(m->fmi_version);
            m->fmi_version = strdup("1.0");
            break;
        case 3:
            for (int k = 0; k < 3; k++)
                m->interfaces[k].present = false;
            break;
        case 4:
            free(m->interfaces[FMI_CS].model_identifier);
            m->interfaces[FMI_CS].model_identifier = strdup("../evil");
            break;
        }
        fmi_report *rep = validate_model(m);
        if (count_rule(rep, cases[i].rule) != 1 || rep->n_problems != 1) {
            dump(rep);
            fail_msg("expected only %s", cases[i].rule);
        }
        fmi_report_free(rep);
        fmi_model_free(m);
    }
}

static void test_model_identifier(void **state)
{
    (void)state;
    expect2_line("<CoSimulation modelIdentifier=\"BouncingBall\"/>", "<CoSimulation modelIdentifier=\"Bouncing Ball\"/>",
                 "model-identifier-invalid", "<CoSimulation", true);
    expect3_line("<ModelExchange modelIdentifier=\"Dahlquist\"/>", "<ModelExchange modelIdentifier=\"1Dahlquist\"/>",
                 "model-identifier-invalid", "<ModelExchange", true);
}

static void test_no_interface(void **state)
{
    (void)state;
    char *a = replace(FMI2, "<CoSimulation modelIdentifier=\"BouncingBall\"/>\n", "");
    char *b = replace(a, "<ModelExchange modelIdentifier=\"BouncingBall\"/>\n", "");
    expect(b, "interface-required", strdup("modelDescription.xml"), true);
    free(a);
}

static void test_guid_missing(void **state)
{
    (void)state;
    expect2_line(" guid=\"{1234}\"", "", "instantiation-token-required", NULL, true);
}

static void test_naming_convention(void **state)
{
    (void)state;
    expect2_line("variableNamingConvention=\"structured\"", "variableNamingConvention=\"tree\"",
                 "variable-naming-convention", NULL, true);
    expect2_var("name=\"v\"", "name=\"v..x\"", "structured-name-invalid", "name=\"v..x\"", "v..x", true);
    expect2_var("name=\"g\"", "name=\"2g\"", "structured-name-invalid", "name=\"2g\"", "2g", true);
    expect2_var("name=\"der(h)\"", "name=\"der(h\"", "structured-name-invalid", "name=\"der(h\"", "der(h", true);
    /* valid structured forms: quoted names, array subscripts, der(x, 2) */
    char *a = replace(FMI2, "name=\"g\"", "name=\"a.'q x'[1,2].b\"");
    char *b = replace(a, "name=\"k\"", "name=\"der(a.x,2)\"");
    fmi_report *rep = validate_doc(b);
    if (rep->n_problems)
        dump(rep);
    assert_int_equal(rep->n_problems, 0);
    fmi_report_free(rep);
    free(a);
    free(b);
    /* flat names are not checked against the grammar */
    char *flat = replace(FMI3, "name=\"z\"", "name=\"z..[\"");
    rep = validate_doc(flat);
    if (rep->n_problems)
        dump(rep);
    assert_int_equal(rep->n_problems, 0);
    fmi_report_free(rep);
    free(flat);
}

/* ------------------------------------------------------------------ */
/* variables                                                            */

static void test_unique_names(void **state)
{
    (void)state;
    expect2_var("name=\"e\"", "name=\"g\"", "unique-variable-names", "valueReference=\"6\"", "g", true);
    expect3_var("name=\"k\"", "name=\"x\"", "unique-variable-names", "valueReference=\"3\"", "x", true);
}

static void test_unique_value_references(void **state)
{
    (void)state;
    /* FMI 2: alias of a fixed and a tunable parameter */
    expect2_var("name=\"e\" valueReference=\"6\"", "name=\"e\" valueReference=\"5\"", "unique-value-references",
                "name=\"e\"", "e", true);
    /* FMI 2: two inputs in one alias set */
    expect2_var("</ModelVariables>",
                "<ScalarVariable name=\"on2\" valueReference=\"0\" causality=\"input\" variability=\"discrete\">"
                "<Boolean start=\"false\"/></ScalarVariable>\n</ModelVariables>",
                "unique-value-references", "name=\"on2\"", "on2", true);
}

static void test_unique_value_references_fmi3(void **state)
{
    (void)state;
    /* FMI 3: one value reference space and no aliases at all */
    expect3_var("name=\"k\" valueReference=\"3\"", "name=\"k\" valueReference=\"2\"", "unique-value-references",
                "name=\"k\"", "k", true);
    /* even across types */
    expect3_var("name=\"n\" valueReference=\"4\"", "name=\"n\" valueReference=\"3\"", "unique-value-references",
                "name=\"n\"", "n", false);
}

static void test_units_and_types(void **state)
{
    (void)state;
    expect2_var("<Real unit=\"m/s\" start=\"0\"/>", "<Real unit=\"km/h\" start=\"0\"/>", "unit-undefined",
                "name=\"v\"", "v", true);
    expect2_line("<Real quantity=\"Position\" unit=\"m\"/>", "<Real quantity=\"Position\" unit=\"mm\"/>",
                 "unit-undefined", "name=\"Position\"", true);
    expect2_var("<Real unit=\"m/s\" start=\"0\"/>", "<Real displayUnit=\"km/h\" start=\"0\"/>",
                "display-unit-without-unit", "name=\"v\"", "v", true);
    expect2_var("declaredType=\"Position\"", "declaredType=\"Pos\"", "declared-type-undefined", "name=\"h\"", "h",
                true);
    expect2_var("<Enumeration declaredType=\"Mode\" start=\"1\"/>", "<Enumeration declaredType=\"Position\" start=\"1\"/>",
                "declared-type-mismatch", "name=\"mode\"", "mode", true);
    expect2_var("<Enumeration declaredType=\"Mode\" start=\"1\"/>", "<Enumeration start=\"1\"/>",
                "enumeration-declared-type", "name=\"mode\"", "mode", true);
    expect3_var("declaredType=\"Time\"", "declaredType=\"Tim\"", "declared-type-undefined", "name=\"time\"", "time",
                true);
}

static void test_min_max_start_nominal(void **state)
{
    (void)state;
    expect2_var("start=\"0.7\"", "start=\"1.5\"", "start-out-of-range", "name=\"e\"", "e", true);
    expect2_var("start=\"0.7\"", "start=\"abc\"", "start-value-invalid", "name=\"e\"", "e", true);
    expect2_var("min=\"0.5\" max=\"1\"", "min=\"0.8\" max=\"0.6\"", "min-max", "name=\"e\"", "e", false);
    expect2_var("nominal=\"1\"", "nominal=\"0\"", "nominal-positive", "name=\"e\"", "e", true);
    /* min inherited from nothing, max on the variable: start above max */
    expect2_var("start=\"-9.81\" max=\"0\"", "start=\"9.81\" max=\"0\"", "start-out-of-range", "name=\"g\"", "g", true);
    expect3_var("name=\"n\" valueReference=\"4\" causality=\"structuralParameter\" variability=\"fixed\" start=\"3\"",
                "name=\"n\" valueReference=\"4\" causality=\"structuralParameter\" variability=\"fixed\" start=\"-3\"",
                "start-value-invalid", "name=\"n\"", "n", true);
    expect3_var("initial=\"exact\" start=\"0\"/>", "initial=\"exact\" start=\"3000000000\"/>", "start-value-invalid",
                "name=\"cnt\"", "cnt", true);
    expect3_var("start=\"1\"/>\n<UInt64", "start=\"1 2\"/>\n<UInt64", "start-value-invalid", "name=\"k\"", "k",
                true);
}

static void test_causality_variability_initial(void **state)
{
    (void)state;
    expect2_var("name=\"g\" valueReference=\"5\" causality=\"parameter\" variability=\"fixed\"",
                "name=\"g\" valueReference=\"5\" causality=\"parameter\" variability=\"continuous\"",
                "causality-variability", "name=\"g\"", "g", true);
    expect2_var("name=\"count\" valueReference=\"0\" causality=\"output\" variability=\"discrete\"",
                "name=\"count\" valueReference=\"0\" causality=\"output\" variability=\"continuous\"",
                "continuous-requires-float", "name=\"count\"", "count", true);
    expect2_var("name=\"mode\" valueReference=\"1\" causality=\"input\" variability=\"discrete\"",
                "name=\"mode\" valueReference=\"1\" causality=\"input\" variability=\"discrete\" initial=\"exact\"",
                "initial-invalid", "name=\"mode\"", "mode", true);
    expect2_var("variability=\"fixed\" initial=\"exact\"><Real unit=\"m/s2\"",
                "variability=\"fixed\" initial=\"calculated\"><Real unit=\"m/s2\"", "initial-invalid", "name=\"g\"",
                "g", true);
    expect2_var("name=\"k\" valueReference=\"7\" causality=\"calculatedParameter\" variability=\"fixed\"",
                "name=\"k\" valueReference=\"7\" causality=\"calculatedParameter\" variability=\"fixed\" initial=\"exact\"",
                "initial-invalid", "name=\"k\"", "k", false);
    expect3_var("name=\"u\" valueReference=\"5\" causality=\"input\"",
                "name=\"u\" valueReference=\"5\" causality=\"input\" variability=\"tunable\"", "causality-variability",
                "name=\"u\"", "u", true);
    expect3_var("name=\"cnt\" valueReference=\"9\" causality=\"output\" variability=\"discrete\"",
                "name=\"cnt\" valueReference=\"9\" causality=\"output\" variability=\"continuous\"",
                "continuous-requires-float", "name=\"cnt\"", "cnt", true);
    expect3_var("name=\"x\" valueReference=\"1\" causality=\"output\" variability=\"continuous\"",
                "name=\"x\" valueReference=\"1\" causality=\"output\" variability=\"constant\"", "derivative-not-continuous",
                "name=\"der(x)\"", "der(x)", false);
}

static void test_start_rules(void **state)
{
    (void)state;
    expect2_var("<Boolean start=\"true\"/>", "<Boolean/>", "start-required", "name=\"on\"", "on", true);
    expect2_var("<Real unit=\"m/s\" start=\"0\"/>", "<Real unit=\"m/s\"/>", "start-required", "name=\"v\"", "v", true);
    expect2_var("<String start=\"x y\"/>", "<String/>", "start-required", "name=\"label\"", "label", true);
    expect2_var("variability=\"fixed\"><Real/>", "variability=\"fixed\"><Real start=\"1\"/>", "start-not-allowed",
                "name=\"k\"", "k", true);
    expect2_var("variability=\"continuous\"><Real/>", "variability=\"continuous\"><Real start=\"0\"/>",
                "start-not-allowed", "name=\"time\"", "time", true);
    expect3_var(" start=\"0 0 0\"", "", "start-required", "name=\"u\"", "u", true);
    expect3_var("name=\"k\" valueReference=\"3\" causality=\"parameter\" variability=\"fixed\" start=\"1\"",
                "name=\"k\" valueReference=\"3\" causality=\"parameter\" variability=\"fixed\"", "start-required",
                "name=\"k\"", "k", true);
    expect3_var("name=\"z\" valueReference=\"6\" causality=\"local\" variability=\"continuous\"",
                "name=\"z\" valueReference=\"6\" causality=\"local\" variability=\"continuous\" start=\"1\"",
                "start-not-allowed", "name=\"z\"", "z", true);
    /* a constant needs a start */
    expect3_var("name=\"z\" valueReference=\"6\" causality=\"local\" variability=\"continuous\"",
                "name=\"z\" valueReference=\"6\" causality=\"local\" variability=\"constant\"", "start-required",
                "name=\"z\"", "z", false);
}

static void test_independent(void **state)
{
    (void)state;
    expect2_var("name=\"k\" valueReference=\"7\" causality=\"calculatedParameter\" variability=\"fixed\"",
                "name=\"k\" valueReference=\"7\" causality=\"independent\" variability=\"continuous\"",
                "independent-unique", "name=\"k\"", "k", false);
    expect3_line("name=\"time\" valueReference=\"0\" causality=\"independent\"",
                 "name=\"time\" valueReference=\"0\" causality=\"local\"", "independent-required", NULL, true);
    expect3_var("<Float64 name=\"time\" valueReference=\"0\" causality=\"independent\" variability=\"continuous\" declaredType=\"Time\"/>",
                "<Int32 name=\"time\" valueReference=\"0\" causality=\"independent\"/>", "independent-type",
                "name=\"time\"", "time", false);
}

static void test_derivatives(void **state)
{
    (void)state;
    expect2_var("derivative=\"4\"", "derivative=\"99\"", "derivative-unresolved", "name=\"der(v)\"", "der(v)", false);
    expect2_var("derivative=\"2\"", "derivative=\"8\"", "derivative-not-float", "name=\"der(h)\"", "der(h)", false);
    expect2_var("name=\"v\" valueReference=\"3\" causality=\"output\" variability=\"continuous\"",
                "name=\"v\" valueReference=\"3\" causality=\"output\" variability=\"discrete\"",
                "derivative-not-continuous", "name=\"der(v)\"", "der(v)", true);
    expect3_var("derivative=\"1\"", "derivative=\"77\"", "derivative-unresolved", "name=\"der(x)\"", "der(x)", false);
}

static void test_fmi3_references(void **state)
{
    (void)state;
    expect3_var("</ModelVariables>",
                "<Float64 name=\"p\" valueReference=\"10\" causality=\"local\" variability=\"discrete\" previous=\"99\"/>\n"
                "</ModelVariables>",
                "previous-unresolved", "name=\"p\"", "p", true);
    expect3_var("<UInt64 name=\"n\"", "<Int64 name=\"n\"", "dimension-invalid", "name=\"u\"", "u", true);
    expect3_var("<Dimension valueReference=\"4\"/>", "<Dimension valueReference=\"44\"/>", "dimension-invalid",
                "name=\"u\"", "u", true);
    expect3_var("clocks=\"8\"", "clocks=\"1\"", "clock-reference", "name=\"cnt\"", "cnt", true);
}

/* ------------------------------------------------------------------ */
/* ModelStructure                                                       */

static void test_outputs(void **state)
{
    (void)state;
    expect2_var("<Unknown index=\"8\" dependencies=\"\"/>\n", "", "outputs-missing", "name=\"count\"", "count", true);
    expect2_line("<Unknown index=\"4\"/>", "<Unknown index=\"6\"/>", "outputs-causality", "<Unknown index=\"6\"/>",
                 false);
    expect2_line("<Unknown index=\"2\"/>", "<Unknown index=\"77\"/>", "model-structure-unresolved",
                 "<Unknown index=\"77\"/>", false);
    expect3_var("<Output valueReference=\"9\"/>\n", "", "outputs-missing", "name=\"cnt\"", "cnt", true);
    expect3_line("<Output valueReference=\"9\"/>", "<Output valueReference=\"3\"/>", "outputs-causality",
                 "<Output valueReference=\"3\"/>", false);
    expect3_line("<Output valueReference=\"1\"/>", "<Output valueReference=\"1\"/>\n<Output valueReference=\"1\" />",
                 "model-structure-duplicate", "<Output valueReference=\"1\" />", true);
}

static void test_derivatives_structure(void **state)
{
    (void)state;
    expect2_line("<Unknown index=\"3\" dependencies=\"4\"/>", "<Unknown index=\"3\" dependencies=\"40\"/>",
                 "model-structure-unresolved", "dependencies=\"40\"", true);
    expect2_line("<Unknown index=\"5\" dependencies=\"\"/>", "<Unknown index=\"6\" dependencies=\"\"/>",
                 "derivatives-not-derivative", "<Unknown index=\"6\"", false);
    expect3_line("<ContinuousStateDerivative valueReference=\"2\"/>", "<ContinuousStateDerivative valueReference=\"3\"/>",
                 "derivatives-not-derivative", "<ContinuousStateDerivative", false);
}

static void test_initial_unknowns(void **state)
{
    (void)state;
    expect2_var("<Unknown index=\"12\"/>\n", "", "initial-unknowns-missing", "name=\"k\"", "k", true);
    expect2_var("<Unknown index=\"12\"/>", "<Unknown index=\"12\"/>\n<Unknown index=\"7\"/>",
                "initial-unknowns-unexpected", "name=\"e\"", "e", true);
    /* a state with initial calculated must be listed too */
    expect2_var("<Unknown index=\"5\"/>\n", "", "initial-unknowns-missing", "name=\"der(v)\"", "der(v)", true);
    expect3_var("<InitialUnknown valueReference=\"2\"/>\n", "", "initial-unknowns-missing", "name=\"der(x)\"",
                "der(x)", true);
    expect3_var("<InitialUnknown valueReference=\"2\"/>",
                "<InitialUnknown valueReference=\"2\"/>\n<InitialUnknown valueReference=\"3\"/>",
                "initial-unknowns-unexpected", "name=\"k\"", "k", true);
    expect3_line("<InitialUnknown valueReference=\"2\"/>", "<InitialUnknown valueReference=\"2\" dependencies=\"99\"/>",
                 "model-structure-unresolved", "<InitialUnknown", true);
}

static void test_event_indicators(void **state)
{
    (void)state;
    expect3_line("name=\"z\" valueReference=\"6\" causality=\"local\" variability=\"continuous\"",
                 "name=\"z\" valueReference=\"6\" causality=\"local\" variability=\"discrete\"", "event-indicators",
                 "<EventIndicator", true);
    expect3_line("<EventIndicator valueReference=\"6\"/>", "<EventIndicator valueReference=\"66\"/>",
                 "model-structure-unresolved", "<EventIndicator", true);
    expect3_line("<EventIndicator valueReference=\"6\"/>", "<EventIndicator valueReference=\"3\"/>",
                 "event-indicators", "<EventIndicator", true);
}

static void test_default_experiment(void **state)
{
    (void)state;
    expect2_line("stopTime=\"3\"", "stopTime=\"0\"", "default-experiment", NULL, true);
    expect2_line("tolerance=\"1e-6\"", "tolerance=\"0\"", "default-experiment", NULL, true);
    expect3_line("stepSize=\"0.1\"", "stepSize=\"-1\"", "default-experiment", NULL, true);
}

/* ------------------------------------------------------------------ */
/* report API                                                           */

static void test_report_print_and_cap(void **state)
{
    (void)state;
    fmi_report *rep = calloc(1, sizeof *rep);
    assert_non_null(rep);
    assert_int_equal(fmi_report_add(rep, "some-rule", "modelDescription.xml:3", "bad %s\nvalue", "x"), 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    fmi_report_print(rep, f);
    fclose(f);
    assert_string_equal(buf, "some-rule  modelDescription.xml:3: bad x value\n");
    free(buf);
    for (int i = 0; i < 2000; i++)
        assert_int_equal(fmi_report_add(rep, "r", "w", "%d", i), 0);
    assert_int_equal(rep->n_problems, 1001);
    assert_string_equal(rep->problems[1000].rule, "too-many-problems");
    fmi_report_free(rep);
    fmi_report_free(NULL);
}

/* ------------------------------------------------------------------ */
/* FMUs                                                                 */

static char *tmp_root;

static int setup_tmp(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/test_validate_XXXXXX";
    char *d = mkdtemp(tmpl);
    if (!d)
        return -1;
    tmp_root = strdup(d);
    return tmp_root ? 0 : -1;
}

static int teardown_tmp(void **state)
{
    (void)state;
    fmugw_rmtree(tmp_root);
    free(tmp_root);
    tmp_root = NULL;
    return 0;
}

/* Writes a zip at tmp_root/`name` with the given (path, data) entries
 * (data NULL: copy the file named by the next argument). */
static char *make_zip(const char *name, size_t n, const char *const *entries)
{
    char *path = fmugw_path_join(tmp_root, name);
    assert_non_null(path);
    int err = 0;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    assert_non_null(z);
    for (size_t i = 0; i < n; i++) {
        const char *entry = entries[2 * i], *data = entries[2 * i + 1];
        zip_source_t *src;
        if (strncmp(data, "file:", 5) == 0)
            src = zip_source_file(z, data + 5, 0, -1);
        else
            src = zip_source_buffer(z, data, strlen(data), 0);
        assert_non_null(src);
        assert_true(zip_file_add(z, entry, src, ZIP_FL_OVERWRITE) >= 0);
    }
    assert_int_equal(zip_close(z), 0);
    return path;
}

/* Runs fmi_validate_fmu with TMPDIR pointing at an empty directory and
 * checks the temporary extraction is gone afterwards. */
static fmi_report *validate_fmu_clean(const char *fmu)
{
    char *scratch = fmugw_path_join(tmp_root, "scratch");
    assert_non_null(scratch);
    fmugw_rmtree(scratch);
    assert_int_equal(mkdir(scratch, 0700), 0);
    char *old = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
    setenv("TMPDIR", scratch, 1);
    fmi_report *rep = NULL;
    assert_int_equal(fmi_validate_fmu(&rep, fmu), 0);
    assert_non_null(rep);
    if (old) {
        setenv("TMPDIR", old, 1);
        free(old);
    } else {
        unsetenv("TMPDIR");
    }
    DIR *d = opendir(scratch);
    assert_non_null(d);
    struct dirent *e;
    int left = 0;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            left++;
    closedir(d);
    assert_int_equal(left, 0);
    fmugw_rmtree(scratch);
    free(scratch);
    return rep;
}

static void test_fmu_without_binary(void **state)
{
    (void)state;
    const char *entries[] = { "modelDescription.xml", FMI2 };
    char *fmu = make_zip("nobin.fmu", 1, entries);
    fmi_report *rep = validate_fmu_clean(fmu);
    /* CS and ME share the binary: one problem naming it */
    if (rep->n_problems != 1 || count_rule(rep, "binary-missing") != 1)
        dump(rep);
    assert_int_equal(rep->n_problems, 1);
    assert_string_equal(rep->problems[0].rule, "binary-missing");
    assert_string_equal(rep->problems[0].where, "binaries/linux64/BouncingBall.so");
    fmi_report_free(rep);
    free(fmu);

    const char *entries3[] = { "modelDescription.xml", FMI3 };
    fmu = make_zip("nobin3.fmu", 1, entries3);
    rep = validate_fmu_clean(fmu);
    if (rep->n_problems != 1)
        dump(rep);
    assert_int_equal(rep->n_problems, 1);
    assert_string_equal(rep->problems[0].where, "binaries/x86_64-linux/Dahlquist.so");
    fmi_report_free(rep);
    free(fmu);
}

static void test_fmu_without_xml(void **state)
{
    (void)state;
    const char *entries[] = { "binaries/linux64/BouncingBall.so", "not really a library" };
    char *fmu = make_zip("noxml.fmu", 1, entries);
    fmi_report *rep = validate_fmu_clean(fmu);
    if (rep->n_problems != 1)
        dump(rep);
    assert_int_equal(rep->n_problems, 1);
    assert_string_equal(rep->problems[0].rule, "model-description-missing");
    fmi_report_free(rep);
    free(fmu);
}

static void test_fmu_bad_xml_and_not_zip(void **state)
{
    (void)state;
    const char *entries[] = { "modelDescription.xml", "<fmiModelDescription fmiVersion=\"2.0\"" };
    char *fmu = make_zip("badxml.fmu", 1, entries);
    fmi_report *rep = validate_fmu_clean(fmu);
    if (rep->n_problems != 1)
        dump(rep);
    assert_int_equal(rep->n_problems, 1);
    assert_string_equal(rep->problems[0].rule, "model-description-parse");
    assert_true(strncmp(rep->problems[0].where, "modelDescription.xml", 20) == 0);
    fmi_report_free(rep);
    free(fmu);

    char *notzip = fmugw_path_join(tmp_root, "notzip.fmu");
    FILE *f = fopen(notzip, "w");
    assert_non_null(f);
    fputs("hello, not a zip\n", f);
    fclose(f);
    rep = validate_fmu_clean(notzip);
    assert_int_equal(rep->n_problems, 1);
    assert_string_equal(rep->problems[0].rule, "archive");
    assert_string_equal(rep->problems[0].where, "notzip.fmu");
    fmi_report_free(rep);
    free(notzip);

    const char *slip[] = { "../evil.txt", "x", "modelDescription.xml", FMI2 };
    fmu = make_zip("slip.fmu", 2, slip);
    rep = validate_fmu_clean(fmu);
    assert_int_equal(rep->n_problems, 1);
    assert_string_equal(rep->problems[0].rule, "archive");
    fmi_report_free(rep);
    free(fmu);
}

/* A real ELF shared library without FMI functions: every required function
 * is reported once, even though CS and ME share the file. */
static void test_fmu_binary_without_functions(void **state)
{
    (void)state;
    const char *lib = NULL;
    const char *candidates[] = { "/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib/x86_64-linux-gnu/libm.so.6" };
    for (size_t i = 0; i < 2; i++)
        if (access(candidates[i], R_OK) == 0)
            lib = candidates[i];
    if (!lib)
        skip();
    char *data = NULL;
    assert_true(asprintf(&data, "file:%s", lib) > 0);
    const char *entries[] = { "modelDescription.xml", FMI2, "binaries/linux64/BouncingBall.so", data };
    char *fmu = make_zip("nofuncs.fmu", 2, entries);
    fmi_report *rep = validate_fmu_clean(fmu);
    size_t n = count_rule(rep, "binary-function-missing");
    assert_int_equal(n, rep->n_problems);
    assert_true(n >= 10);
    size_t inst = 0, dostep = 0;
    for (size_t i = 0; i < rep->n_problems; i++) {
        assert_string_equal(rep->problems[i].where, "binaries/linux64/BouncingBall.so");
        inst += strstr(rep->problems[i].message, "export fmi2Instantiate ") != NULL;
        dostep += strstr(rep->problems[i].message, "export fmi2DoStep ") != NULL;
    }
    assert_int_equal(inst, 1);
    assert_int_equal(dostep, 1);
    fmi_report_free(rep);
    free(fmu);

    const char *junk[] = { "modelDescription.xml", FMI2, "binaries/linux64/BouncingBall.so", "junk" };
    fmu = make_zip("junk.fmu", 2, junk);
    rep = validate_fmu_clean(fmu);
    if (rep->n_problems != 1)
        dump(rep);
    assert_int_equal(rep->n_problems, 1);
    assert_string_equal(rep->problems[0].rule, "binary-invalid");
    fmi_report_free(rep);
    free(fmu);
    free(data);
}

static void validate_samples(const char *version)
{
    char *pattern = NULL;
    const char *dir = getenv("FMUGW_FMU_DIR");
    if (!dir || !*dir)
        dir = FMUGW_FMU_DIR;
    assert_true(asprintf(&pattern, "%s/%s/*.fmu", dir, version) > 0);
    glob_t g;
    int rc = glob(pattern, 0, NULL, &g);
    if (rc != 0) {
        fprintf(stderr, "no sample FMUs match %s (build the fmus target first)\n", pattern);
        free(pattern);
        fail();
    }
    int bad = 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        fmi_report *rep = validate_fmu_clean(g.gl_pathv[i]);
        if (rep->n_problems) {
            fprintf(stderr, "%s:\n", g.gl_pathv[i]);
            fmi_report_print(rep, stderr);
            bad++;
        }
        fmi_report_free(rep);
    }
    globfree(&g);
    free(pattern);
    assert_int_equal(bad, 0);
}

static void test_sample_fmus_fmi2(void **state)
{
    (void)state;
    validate_samples("2.0");
}

static void test_sample_fmus_fmi3(void **state)
{
    (void)state;
    validate_samples("3.0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmi2_valid),
        cmocka_unit_test(test_fmi3_valid),
        cmocka_unit_test(test_fmi2_alias_allowed),
        cmocka_unit_test(test_attributes_in_struct),
        cmocka_unit_test(test_model_identifier),
        cmocka_unit_test(test_no_interface),
        cmocka_unit_test(test_guid_missing),
        cmocka_unit_test(test_naming_convention),
        cmocka_unit_test(test_unique_names),
        cmocka_unit_test(test_unique_value_references),
        cmocka_unit_test(test_unique_value_references_fmi3),
        cmocka_unit_test(test_units_and_types),
        cmocka_unit_test(test_min_max_start_nominal),
        cmocka_unit_test(test_causality_variability_initial),
        cmocka_unit_test(test_start_rules),
        cmocka_unit_test(test_independent),
        cmocka_unit_test(test_derivatives),
        cmocka_unit_test(test_fmi3_references),
        cmocka_unit_test(test_outputs),
        cmocka_unit_test(test_derivatives_structure),
        cmocka_unit_test(test_initial_unknowns),
        cmocka_unit_test(test_event_indicators),
        cmocka_unit_test(test_default_experiment),
        cmocka_unit_test(test_report_print_and_cap),
        cmocka_unit_test(test_fmu_without_binary),
        cmocka_unit_test(test_fmu_without_xml),
        cmocka_unit_test(test_fmu_bad_xml_and_not_zip),
        cmocka_unit_test(test_fmu_binary_without_functions),
        cmocka_unit_test(test_sample_fmus_fmi2),
        cmocka_unit_test(test_sample_fmus_fmi3),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
