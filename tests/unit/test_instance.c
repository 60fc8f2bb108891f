/*
 * test_instance.c - instance.c: loading FMU binaries (platform paths,
 * missing binary, missing symbol, unsafe identifiers), the FMI state machine
 * (illegal calls refused before reaching the FMU), value round trips and
 * integer range conversion, status mapping, call logging and cleanup.
 *
 * Two kinds of FMU are used: the sample FMUs built into FMUGW_FMU_DIR
 * (Dahlquist, FMI 2 and 3, CS and ME), and a small FMI 2 mock compiled by the
 * test itself whose behaviour is controlled through its variables (it can
 * discard a step with terminate, return Error, and counts its calls).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fmi/fmu.h"
#include "fmi/instance.h"
#include "fmi/model.h"
#include "util/error.h"
#include "util/fsutil.h"

#include <dlfcn.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef FMUGW_FMU_DIR
#define FMUGW_FMU_DIR "fmus"
#endif

/* --- helpers --------------------------------------------------------- */

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

static int mkdirs(const char *path)
{
    char buf[4096];
    if ((size_t)snprintf(buf, sizeof buf, "%s", path) >= sizeof buf)
        return -1;
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0700);
            *p = '/';
        }
    }
    return mkdir(buf, 0700) == 0 || access(buf, F_OK) == 0 ? 0 : -1;
}

/* The repository's src/fmi, found from this file's path. */
static void abi_include_dir(char *out, size_t len)
{
    char file[PATH_MAX];
    if (!realpath(__FILE__, file))
        snprintf(file, sizeof file, "%s", __FILE__);
    char *p = strstr(file, "/tests/unit/");
    if (p)
        *p = '\0';
    if ((size_t)snprintf(out, len, "%s/src/fmi", file) >= len)
        out[0] = '\0';
}

/* Compiles C source `src` into the shared library `so`. */
static int compile_so(const char *dir, const char *src, const char *so)
{
    char c_path[1024], inc[PATH_MAX], cmd[2 * PATH_MAX + 1200];
    snprintf(c_path, sizeof c_path, "%s/src-%d.c", dir, rand());
    abi_include_dir(inc, sizeof inc);
    if (write_file(c_path, src) != 0)
        return -1;
    snprintf(cmd, sizeof cmd, "cc -std=c11 -shared -fPIC -I'%s' -o '%s' '%s'", inc, so, c_path);
    return system(cmd) == 0 ? 0 : -1;
}

typedef struct {
    char lines[64][512];
    size_t n;
    size_t total;
} call_log;

static void collect_call(void *ctx, const char *line)
{
    call_log *cl = ctx;
    if (cl->n < 64)
        snprintf(cl->lines[cl->n++], sizeof cl->lines[0], "%s", line);
    cl->total++;
}

typedef struct {
    char message[512];
    fmi_status status;
    int count;
} msg_log;

static void collect_msg(void *ctx, fmi_status status, const char *category, const char *message)
{
    msg_log *ml = ctx;
    (void)category;
    ml->status = status;
    snprintf(ml->message, sizeof ml->message, "%s", message);
    ml->count++;
}

static const char *find_line(const call_log *cl, const char *prefix)
{
    for (size_t i = 0; i < cl->n; i++)
        if (strncmp(cl->lines[i], prefix, strlen(prefix)) == 0)
            return cl->lines[i];
    return NULL;
}

/* --- the mock FMU ---------------------------------------------------- */

/* Real vr 0 x (state), 1 k, 2 stop_at (>0: DoStep past it discards with
 * terminated), 3 fail (!=0: DoStep returns Error); Integer vr 0; Boolean
 * vr 0; String vr 0. One event indicator x - 0.5. */
static const char mock_source[] =
    "#include \"fmi2_abi.h\"\n"
    "#include <string.h>\n"
    "#define E __attribute__((visibility(\"default\")))\n"
    "typedef struct { const fmi2CallbackFunctions *cb; double t, x, k, stop_at, fail, last; int i; int b;\n"
    "  char s[64]; int terminated; } M;\n"
    "E int mock_frees, mock_terminates, mock_calls;\n"
    "E const char *fmi2GetTypesPlatform(void) { return \"default\"; }\n"
    "E const char *fmi2GetVersion(void) { return \"2.0\"; }\n"
    "E fmi2Status fmi2SetDebugLogging(fmi2Component c, fmi2Boolean o, size_t n, const fmi2String k[])\n"
    "{ (void)c; (void)o; (void)n; (void)k; return fmi2OK; }\n"
    "E fmi2Component fmi2Instantiate(fmi2String name, fmi2Type type, fmi2String guid, fmi2String res,\n"
    "  const fmi2CallbackFunctions *cb, fmi2Boolean vis, fmi2Boolean log)\n"
    "{ (void)type; (void)vis; (void)log;\n"
    "  if (strcmp(guid, \"{mock}\") != 0) { cb->logger(cb->componentEnvironment, name, fmi2Error, \"error\",\n"
    "      \"bad guid %s (%d)\", guid, 42); return NULL; }\n"
    "  void *z = cb->allocateMemory(0, 0); if (!z) return NULL; cb->freeMemory(z);\n"
    "  M *m = cb->allocateMemory(1, sizeof *m); if (!m) return NULL;\n"
    "  m->cb = cb; m->x = 1; m->k = 1; strcpy(m->s, \"hello\");\n"
    "  cb->logger(cb->componentEnvironment, name, fmi2OK, \"info\", \"resources at %s\", res);\n"
    "  return m; }\n"
    "E void fmi2FreeInstance(fmi2Component c) { M *m = c; mock_frees++; m->cb->freeMemory(m); }\n"
    "E fmi2Status fmi2SetupExperiment(fmi2Component c, fmi2Boolean a, fmi2Real b, fmi2Real t0, fmi2Boolean d,\n"
    "  fmi2Real e) { M *m = c; (void)a; (void)b; (void)d; (void)e; m->t = t0; mock_calls++; return fmi2OK; }\n"
    "#define SIMPLE(f) E fmi2Status f(fmi2Component c) { (void)c; mock_calls++; return fmi2OK; }\n"
    "SIMPLE(fmi2EnterInitializationMode) SIMPLE(fmi2ExitInitializationMode) SIMPLE(fmi2Reset)\n"
    "SIMPLE(fmi2CancelStep) SIMPLE(fmi2EnterEventMode) SIMPLE(fmi2EnterContinuousTimeMode)\n"
    "E fmi2Status fmi2Terminate(fmi2Component c) { (void)c; mock_terminates++; return fmi2OK; }\n"
    "static double *real(M *m, unsigned vr) { switch (vr) { case 0: return &m->x; case 1: return &m->k;\n"
    "  case 2: return &m->stop_at; case 3: return &m->fail; default: return NULL; } }\n"
    "E fmi2Status fmi2GetReal(fmi2Component c, const fmi2ValueReference vr[], size_t n, fmi2Real v[])\n"
    "{ for (size_t i = 0; i < n; i++) { double *p = real(c, vr[i]); if (!p) return fmi2Error; v[i] = *p; }\n"
    "  mock_calls++; return fmi2OK; }\n"
    "E fmi2Status fmi2SetReal(fmi2Component c, const fmi2ValueReference vr[], size_t n, const fmi2Real v[])\n"
    "{ for (size_t i = 0; i < n; i++) { double *p = real(c, vr[i]); if (!p) return fmi2Error; *p = v[i]; }\n"
    "  mock_calls++; return fmi2OK; }\n"
    "E fmi2Status fmi2GetInteger(fmi2Component c, const fmi2ValueReference vr[], size_t n, fmi2Integer v[])\n"
    "{ M *m = c; for (size_t i = 0; i < n; i++) { if (vr[i]) return fmi2Error; v[i] = m->i; } return fmi2OK; }\n"
    "E fmi2Status fmi2SetInteger(fmi2Component c, const fmi2ValueReference vr[], size_t n, const fmi2Integer v[])\n"
    "{ M *m = c; for (size_t i = 0; i < n; i++) { if (vr[i]) return fmi2Error; m->i = v[i]; } mock_calls++;\n"
    "  return fmi2OK; }\n"
    "E fmi2Status fmi2GetBoolean(fmi2Component c, const fmi2ValueReference vr[], size_t n, fmi2Boolean v[])\n"
    "{ M *m = c; for (size_t i = 0; i < n; i++) { if (vr[i]) return fmi2Error; v[i] = m->b; } return fmi2OK; }\n"
    "E fmi2Status fmi2SetBoolean(fmi2Component c, const fmi2ValueReference vr[], size_t n, const fmi2Boolean v[])\n"
    "{ M *m = c; for (size_t i = 0; i < n; i++) { if (vr[i]) return fmi2Error; m->b = v[i]; } return fmi2OK; }\n"
    "E fmi2Status fmi2GetString(fmi2Component c, const fmi2ValueReference vr[], size_t n, fmi2String v[])\n"
    "{ M *m = c; for (size_t i = 0; i < n; i++) { if (vr[i]) return fmi2Error; v[i] = m->s; } return fmi2OK; }\n"
    "E fmi2Status fmi2SetString(fmi2Component c, const fmi2ValueReference vr[], size_t n, const fmi2String v[])\n"
    "{ M *m = c; for (size_t i = 0; i < n; i++) { if (vr[i] || strlen(v[i]) >= sizeof m->s) return fmi2Error;\n"
    "  strcpy(m->s, v[i]); } return fmi2OK; }\n"
    "E fmi2Status fmi2DoStep(fmi2Component c, fmi2Real t, fmi2Real h, fmi2Boolean no)\n"
    "{ M *m = c; (void)no; mock_calls++;\n"
    "  if (m->fail != 0) { m->cb->logger(m->cb->componentEnvironment, \"mock\", fmi2Error, \"error\",\n"
    "      \"step failed at t=%g\", t); return fmi2Error; }\n"
    "  if (m->stop_at > 0 && t + h > m->stop_at) { m->terminated = 1; m->last = t; return fmi2Discard; }\n"
    "  m->x += h * -m->k * m->x; m->t = t + h; return fmi2OK; }\n"
    "E fmi2Status fmi2GetStatus(fmi2Component c, const fmi2StatusKind s, fmi2Status *v)\n"
    "{ (void)c; (void)s; *v = fmi2OK; return fmi2OK; }\n"
    "E fmi2Status fmi2GetRealStatus(fmi2Component c, const fmi2StatusKind s, fmi2Real *v)\n"
    "{ M *m = c; if (s != fmi2LastSuccessfulTime) return fmi2Discard; *v = m->last; return fmi2OK; }\n"
    "E fmi2Status fmi2GetIntegerStatus(fmi2Component c, const fmi2StatusKind s, fmi2Integer *v)\n"
    "{ (void)c; (void)s; (void)v; return fmi2Discard; }\n"
    "E fmi2Status fmi2GetBooleanStatus(fmi2Component c, const fmi2StatusKind s, fmi2Boolean *v)\n"
    "{ M *m = c; if (s != fmi2Terminated) return fmi2Discard; *v = m->terminated; return fmi2OK; }\n"
    "E fmi2Status fmi2GetStringStatus(fmi2Component c, const fmi2StatusKind s, fmi2String *v)\n"
    "{ (void)c; (void)s; (void)v; return fmi2Discard; }\n"
    "E fmi2Status fmi2NewDiscreteStates(fmi2Component c, fmi2EventInfo *e)\n"
    "{ (void)c; e->newDiscreteStatesNeeded = 0; e->terminateSimulation = 0; e->nextEventTimeDefined = 1;\n"
    "  e->nextEventTime = 2.5; return fmi2OK; }\n"
    "E fmi2Status fmi2CompletedIntegratorStep(fmi2Component c, fmi2Boolean no, fmi2Boolean *ev, fmi2Boolean *term)\n"
    "{ M *m = c; (void)no; *ev = m->x < 0.5; *term = 0; return fmi2OK; }\n"
    "E fmi2Status fmi2SetTime(fmi2Component c, fmi2Real t) { M *m = c; m->t = t; return fmi2OK; }\n"
    "E fmi2Status fmi2SetContinuousStates(fmi2Component c, const fmi2Real x[], size_t n)\n"
    "{ M *m = c; if (n != 1) return fmi2Error; m->x = x[0]; return fmi2OK; }\n"
    "E fmi2Status fmi2GetDerivatives(fmi2Component c, fmi2Real d[], size_t n)\n"
    "{ M *m = c; if (n != 1) return fmi2Error; d[0] = -m->k * m->x; return fmi2OK; }\n"
    "E fmi2Status fmi2GetEventIndicators(fmi2Component c, fmi2Real z[], size_t n)\n"
    "{ M *m = c; if (n != 1) return fmi2Error; z[0] = m->x - 0.5; return fmi2OK; }\n"
    "E fmi2Status fmi2GetContinuousStates(fmi2Component c, fmi2Real x[], size_t n)\n"
    "{ M *m = c; if (n != 1) return fmi2Error; x[0] = m->x; return fmi2OK; }\n"
    "E fmi2Status fmi2GetNominalsOfContinuousStates(fmi2Component c, fmi2Real x[], size_t n)\n"
    "{ (void)c; if (n != 1) return fmi2Error; x[0] = 1; return fmi2OK; }\n";

typedef struct {
    char *dir;       /* scratch directory */
    char *mock_dir;  /* unpacked mock FMU (binaries/linux64/mock.so) */
    char mock_so[1100];
    fmi_model mock2; /* hand-built model of the mock, no parser involved */
    fmi_unknown der;
} fixture;

static void init_mock_model(fixture *f)
{
    fmi_model *m = &f->mock2;
    memset(m, 0, sizeof *m);
    m->version = FMI_VERSION_2;
    m->model_name = "mock";
    m->instantiation_token = "{mock}";
    m->interfaces[FMI_CS].present = true;
    m->interfaces[FMI_CS].model_identifier = "mock";
    m->interfaces[FMI_ME].present = true;
    m->interfaces[FMI_ME].model_identifier = "mock";
    f->der.var = -1;
    m->derivatives = &f->der;
    m->n_derivatives = 1;
    m->has_number_of_event_indicators = true;
    m->number_of_event_indicators = 1;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char bin[1024];
    if (!f || fmugw_mkdtemp(&f->dir, "fmugw-test-instance-") != 0)
        return -1;
    if (!(f->mock_dir = fmugw_path_join(f->dir, "mock")))
        return -1;
    snprintf(bin, sizeof bin, "%s/binaries/linux64", f->mock_dir);
    if (mkdirs(bin) != 0)
        return -1;
    snprintf(f->mock_so, sizeof f->mock_so, "%s/mock.so", bin);
    if (compile_so(f->dir, mock_source, f->mock_so) != 0)
        return -1;
    init_mock_model(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    fmugw_rmtree(f->dir);
    free(f->dir);
    free(f->mock_dir);
    free(f);
    return 0;
}

/* A counter exported by the mock (the binary is loaded RTLD_LOCAL, so it is
 * reached through a second dlopen of the same file, which shares it). */
static int mock_counter(const char *so, const char *name)
{
    void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    if (!h)
        return -1;
    int *p = dlsym(h, name);
    int v = p ? *p : -1;
    dlclose(h);
    return v;
}

/* --- sample FMUs ----------------------------------------------------- */

static fmi_fmu *open_sample(const char *version, const char *name)
{
    char path[1024];
    fmi_fmu *fmu = NULL;
    snprintf(path, sizeof path, "%s/%s/%s.fmu", FMUGW_FMU_DIR, version, name);
    if (access(path, R_OK) != 0)
        fail_msg("sample FMU %s is missing (build the fmus first)", path);
    if (fmi_fmu_open(&fmu, path) != 0)
        fail_msg("cannot open %s: %s", path, fmugw_error_last());
    return fmu;
}

static uint32_t vr_of(const fmi_model *m, const char *name)
{
    int i = fmi_model_find(m, name);
    if (i < 0)
        fail_msg("variable %s not found", name);
    return m->variables[i].vr;
}

static void dahlquist_cs(const char *version)
{
    fmi_fmu *fmu = open_sample(version, "Dahlquist");
    fmi_binary *bin = NULL;
    fmi_instance *inst = NULL;
    call_log cl = { 0 };
    fmi_instance_options opts = { 0 };
    opts.call_log = collect_call;
    opts.log_ctx = &cl;
    opts.resource_dir = fmu->resource_dir;

    assert_int_equal(fmi_binary_open(&bin, fmu->model, fmu->dir, FMI_CS), 0);
    assert_int_equal(fmi_instance_new(&inst, bin, fmu->model, &opts), 0);
    assert_int_equal(fmi_instance_interface(inst), FMI_CS);

    uint32_t x = vr_of(fmu->model, "x"), k = vr_of(fmu->model, "k");
    double v = 2.0;
    assert_int_equal(fmi_instance_set_float64(inst, &k, 1, &v), 0);
    assert_int_equal(fmi_instance_enter_initialization(inst, 0, 0, 1), 0);
    assert_int_equal(fmi_instance_exit_initialization(inst), 0);
    assert_int_equal(fmi_instance_get_float64(inst, &x, 1, &v), 0);
    assert_true(fabs(v - 1.0) < 1e-12);
    assert_int_equal(fmi_instance_get_float64(inst, &k, 1, &v), 0);
    assert_true(v == 2.0);

    fmi_step_result res;
    double t = 0;
    for (int i = 0; i < 10; i++, t += 0.1) {
        assert_int_equal(fmi_instance_do_step(inst, t, 0.1, &res), 0);
        assert_false(res.terminate);
    }
    assert_int_equal(fmi_instance_get_float64(inst, &x, 1, &v), 0);
    /* x(1) = exp(-2) ~ 0.135; any sane integrator is within 0.05 */
    assert_true(fabs(v - exp(-2.0)) < 0.05);
    assert_int_equal(fmi_instance_terminate(inst), 0);

    const char *line = find_line(&cl, strcmp(version, "2.0") == 0 ? "fmi2DoStep(" : "fmi3DoStep(");
    assert_non_null(line);
    assert_non_null(strstr(line, "currentCommunicationPoint=0"));
    assert_non_null(strstr(line, "-> OK"));
    fmi_instance_free(inst);
    fmi_binary_close(bin);
    fmi_fmu_close(fmu);
}

static void test_dahlquist_cs_fmi2(void **state)
{
    (void)state;
    dahlquist_cs("2.0");
}

static void test_dahlquist_cs_fmi3(void **state)
{
    (void)state;
    dahlquist_cs("3.0");
}

static void dahlquist_me(const char *version)
{
    fmi_fmu *fmu = open_sample(version, "Dahlquist");
    fmi_binary *bin = NULL;
    fmi_instance *inst = NULL;

    assert_int_equal(fmi_binary_open(&bin, fmu->model, fmu->dir, FMI_ME), 0);
    assert_int_equal(fmi_instance_new(&inst, bin, fmu->model, NULL), 0);
    assert_int_equal(fmi_instance_interface(inst), FMI_ME);
    assert_int_equal(fmi_instance_n_states(inst), 1);
    assert_int_equal(fmi_instance_n_event_indicators(inst), 0);

    assert_int_equal(fmi_instance_enter_initialization(inst, 1e-6, 0, 10), 0);
    assert_int_equal(fmi_instance_exit_initialization(inst), 0);
    fmi_event_result ev;
    int rounds = 0;
    do {
        assert_int_equal(fmi_instance_update_discrete_states(inst, &ev), 0);
    } while (ev.discrete_states_need_update && ++rounds < 100);
    assert_false(ev.terminate);
    assert_int_equal(fmi_instance_enter_continuous_time_mode(inst), 0);

    double x = 0, dx = 0, nominal = 0;
    assert_int_equal(fmi_instance_get_states(inst, &x), 0);
    assert_true(x == 1.0);
    assert_int_equal(fmi_instance_get_nominals(inst, &nominal), 0);
    assert_true(nominal > 0);
    assert_int_equal(fmi_instance_get_derivatives(inst, &dx), 0);
    assert_true(fabs(dx + 1.0) < 1e-12); /* der(x) = -k x, k = 1 */

    double x2 = 0.25;
    assert_int_equal(fmi_instance_set_time(inst, 0.5), 0);
    assert_int_equal(fmi_instance_set_states(inst, &x2), 0);
    assert_int_equal(fmi_instance_get_derivatives(inst, &dx), 0);
    assert_true(fabs(dx + 0.25) < 1e-12);
    bool enter = true, term = true;
    assert_int_equal(fmi_instance_completed_integrator_step(inst, &enter, &term), 0);
    assert_false(enter);
    assert_false(term);

    /* a Co-Simulation call on an ME instance is refused */
    fmi_step_result res;
    assert_int_not_equal(fmi_instance_do_step(inst, 0.5, 0.1, &res), 0);

    assert_int_equal(fmi_instance_terminate(inst), 0);
    fmi_instance_free(inst);
    fmi_binary_close(bin);
    fmi_fmu_close(fmu);
}

static void test_dahlquist_me_fmi2(void **state)
{
    (void)state;
    dahlquist_me("2.0");
}

static void test_dahlquist_me_fmi3(void **state)
{
    (void)state;
    dahlquist_me("3.0");
}

static void illegal_transitions(const char *version)
{
    fmi_fmu *fmu = open_sample(version, "Dahlquist");
    fmi_binary *bin = NULL;
    fmi_instance *inst = NULL;
    fmi_step_result res;
    uint32_t x = vr_of(fmu->model, "x");
    double v;

    assert_int_equal(fmi_binary_open(&bin, fmu->model, fmu->dir, FMI_CS), 0);
    assert_int_equal(fmi_instance_new(&inst, bin, fmu->model, NULL), 0);

    /* Instantiated: no stepping, no leaving init, no getting, no terminate */
    assert_int_equal(fmi_instance_do_step(inst, 0, 0.1, &res), FMUGW_EFMU);
    assert_non_null(strstr(fmugw_error_last(), "DoStep"));
    assert_non_null(strstr(fmugw_error_last(), "not allowed"));
    assert_int_equal(fmi_instance_exit_initialization(inst), FMUGW_EFMU);
    assert_int_equal(fmi_instance_get_float64(inst, &x, 1, &v), FMUGW_EFMU);
    assert_int_equal(fmi_instance_terminate(inst), FMUGW_EFMU);

    /* the refusals did not disturb the instance */
    assert_int_equal(fmi_instance_enter_initialization(inst, 0, 0, 1), 0);
    assert_int_equal(fmi_instance_enter_initialization(inst, 0, 0, 1), FMUGW_EFMU);
    assert_int_equal(fmi_instance_do_step(inst, 0, 0.1, &res), FMUGW_EFMU);
    assert_int_equal(fmi_instance_exit_initialization(inst), 0);
    assert_int_equal(fmi_instance_exit_initialization(inst), FMUGW_EFMU);
    /* ME calls on a CS instance */
    assert_int_not_equal(fmi_instance_enter_continuous_time_mode(inst), 0);
    assert_int_not_equal(fmi_instance_set_time(inst, 0), 0);
    assert_int_equal(fmi_instance_do_step(inst, 0, 0.1, &res), 0);
    assert_int_equal(fmi_instance_terminate(inst), 0);
    /* Terminated: values may be read, nothing else */
    assert_int_equal(fmi_instance_get_float64(inst, &x, 1, &v), 0);
    assert_int_equal(fmi_instance_set_float64(inst, &x, 1, &v), FMUGW_EFMU);
    assert_int_equal(fmi_instance_do_step(inst, 0.1, 0.1, &res), FMUGW_EFMU);
    assert_non_null(strstr(fmugw_error_last(), "Terminated"));
    assert_int_equal(fmi_instance_terminate(inst), FMUGW_EFMU);
    fmi_instance_free(inst);
    fmi_binary_close(bin);
    fmi_fmu_close(fmu);
}

static void test_illegal_transitions_fmi2(void **state)
{
    (void)state;
    illegal_transitions("2.0");
}

static void test_illegal_transitions_fmi3(void **state)
{
    (void)state;
    illegal_transitions("3.0");
}

static void test_me_illegal_transitions(void **state)
{
    (void)state;
    fmi_fmu *fmu = open_sample("3.0", "Dahlquist");
    fmi_binary *bin = NULL;
    fmi_instance *inst = NULL;
    double x = 1;
    bool a, b;
    fmi_event_result ev;
    assert_int_equal(fmi_binary_open(&bin, fmu->model, fmu->dir, FMI_ME), 0);
    assert_int_equal(fmi_instance_new(&inst, bin, fmu->model, NULL), 0);
    assert_int_equal(fmi_instance_enter_initialization(inst, 0, 0, 1), 0);
    assert_int_equal(fmi_instance_exit_initialization(inst), 0);
    /* Event Mode: no continuous states, no integrator step, no re-entering */
    assert_int_equal(fmi_instance_set_states(inst, &x), FMUGW_EFMU);
    assert_non_null(strstr(fmugw_error_last(), "Event Mode"));
    assert_int_equal(fmi_instance_completed_integrator_step(inst, &a, &b), FMUGW_EFMU);
    assert_int_equal(fmi_instance_enter_event_mode(inst), FMUGW_EFMU);
    assert_int_equal(fmi_instance_update_discrete_states(inst, &ev), 0);
    assert_int_equal(fmi_instance_enter_continuous_time_mode(inst), 0);
    /* Continuous-Time Mode: no event iteration */
    assert_int_equal(fmi_instance_update_discrete_states(inst, &ev), FMUGW_EFMU);
    assert_int_equal(fmi_instance_enter_continuous_time_mode(inst), FMUGW_EFMU);
    assert_int_equal(fmi_instance_set_states(inst, &x), 0);
    assert_int_equal(fmi_instance_enter_event_mode(inst), 0);
    /* freed without terminate: fmi_instance_free terminates itself */
    fmi_instance_free(inst);
    fmi_binary_close(bin);
    fmi_fmu_close(fmu);
}

static void test_missing_binary(void **state)
{
    (void)state;
    fmi_fmu *fmu = open_sample("2.0", "Dahlquist");
    fmi_binary *bin = NULL;
    char *bins = fmugw_path_join(fmu->dir, "binaries");
    assert_int_equal(fmugw_rmtree(bins), 0);
    free(bins);
    assert_int_equal(fmi_binary_open(&bin, fmu->model, fmu->dir, FMI_CS), FMUGW_ENOTFOUND);
    assert_null(bin);
    assert_non_null(strstr(fmugw_error_last(), "Dahlquist.so"));
    assert_non_null(strstr(fmugw_error_last(), "linux64"));
    fmi_fmu_close(fmu);
}

/* The sample's binary replaced by a library that exports only GetVersion. */
static void missing_symbol(const char *version)
{
    fmi_fmu *fmu = open_sample(version, "Dahlquist");
    fmi_binary *bin = NULL;
    bool v2 = strcmp(version, "2.0") == 0;
    char *so = fmi_binary_path(fmu->model, fmu->dir, FMI_CS);
    assert_non_null(so);
    assert_int_equal(unlink(so), 0);
    const char *src = v2 ? "const char *fmi2GetVersion(void) { return \"2.0\"; }\n"
                         : "const char *fmi3GetVersion(void) { return \"3.0\"; }\n";
    assert_int_equal(compile_so(fmu->dir, src, so), 0);
    assert_int_equal(fmi_binary_open(&bin, fmu->model, fmu->dir, FMI_CS), FMUGW_ENOTFOUND);
    assert_null(bin);
    const char *msg = fmugw_error_last();
    assert_non_null(strstr(msg, v2 ? "fmi2GetTypesPlatform" : "fmi3SetDebugLogging"));
    assert_non_null(strstr(msg, "Dahlquist.so"));
    free(so);
    fmi_fmu_close(fmu);
}

static void test_missing_symbol_fmi2(void **state)
{
    (void)state;
    missing_symbol("2.0");
}

static void test_missing_symbol_fmi3(void **state)
{
    (void)state;
    missing_symbol("3.0");
}

/* --- the mock -------------------------------------------------------- */

static void test_required_functions(void **state)
{
    (void)state;
    struct {
        fmi_version v;
        fmi_interface i;
        const char *yes, *no;
    } cases[] = {
        { FMI_VERSION_2, FMI_CS, "fmi2DoStep", "fmi2SetTime" },
        { FMI_VERSION_2, FMI_CS, "fmi2Instantiate", "fmi2GetFMUstate" },
        { FMI_VERSION_2, FMI_ME, "fmi2GetDerivatives", "fmi2DoStep" },
        { FMI_VERSION_2, FMI_ME, "fmi2GetReal", "fmi2GetDirectionalDerivative" },
        { FMI_VERSION_3, FMI_CS, "fmi3InstantiateCoSimulation", "fmi3InstantiateModelExchange" },
        { FMI_VERSION_3, FMI_CS, "fmi3GetBinary", "fmi3GetFMUState" },
        { FMI_VERSION_3, FMI_ME, "fmi3GetContinuousStateDerivatives", "fmi3DoStep" },
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        const char *const *names = fmi_required_functions(cases[c].v, cases[c].i);
        bool yes = false, no = false;
        size_t n = 0;
        for (; names[n]; n++) {
            yes |= strcmp(names[n], cases[c].yes) == 0;
            no |= strcmp(names[n], cases[c].no) == 0;
        }
        assert_true(yes);
        assert_false(no);
        assert_true(n > 10);
    }
}

static void test_binary_path(void **state)
{
    fixture *f = *state;
    char *p = fmi_binary_path(&f->mock2, f->mock_dir, FMI_CS);
    assert_non_null(p);
    assert_non_null(strstr(p, "/binaries/linux64/mock.so"));
    free(p);

    /* FMI 2 FMUs that use x86_64-linux are accepted too */
    char *alt_dir = fmugw_path_join(f->dir, "alt"), path[1200];
    snprintf(path, sizeof path, "%s/binaries/x86_64-linux", alt_dir);
    assert_int_equal(mkdirs(path), 0);
    snprintf(path, sizeof path, "%s/binaries/x86_64-linux/mock.so", alt_dir);
    assert_int_equal(symlink(f->mock_so, path), 0);
    p = fmi_binary_path(&f->mock2, alt_dir, FMI_CS);
    assert_string_equal(p, path);
    free(p);
    fmi_binary *bin = NULL;
    assert_int_equal(fmi_binary_open(&bin, &f->mock2, alt_dir, FMI_CS), 0);
    fmi_binary_close(bin);
    free(alt_dir);

    /* a modelIdentifier is a file name, never a path */
    fmi_model evil = f->mock2;
    evil.interfaces[FMI_CS].model_identifier = "../../mock";
    assert_null(fmi_binary_path(&evil, f->mock_dir, FMI_CS));
    assert_int_equal(fmi_binary_open(&bin, &evil, f->mock_dir, FMI_CS), FMUGW_EUNSAFE);
    assert_null(bin);
    /* an interface the FMU does not have */
    evil = f->mock2;
    evil.interfaces[FMI_ME].present = false;
    assert_int_equal(fmi_binary_open(&bin, &evil, f->mock_dir, FMI_ME), FMUGW_EUNSUPPORTED);
}

static fmi_instance *mock_instance(fixture *f, fmi_binary **bin, fmi_interface iface, fmi_instance_options *opts)
{
    fmi_instance *inst = NULL;
    assert_int_equal(fmi_binary_open(bin, &f->mock2, f->mock_dir, iface), 0);
    if (fmi_instance_new(&inst, *bin, &f->mock2, opts) != 0)
        fail_msg("instantiate: %s", fmugw_error_last());
    return inst;
}

static void test_mock_values(void **state)
{
    fixture *f = *state;
    fmi_binary *bin = NULL;
    msg_log ml = { 0 };
    fmi_instance_options opts = { 0 };
    opts.log = collect_msg;
    opts.log_ctx = &ml;
    opts.resource_dir = "/some dir/res";
    fmi_instance *inst = mock_instance(f, &bin, FMI_CS, &opts);

    /* FMI 2 logger: printf-style expansion; the resource dir as a file URI */
    assert_int_equal(ml.count, 1);
    assert_string_equal(ml.message, "resources at file:///some%20dir/res");

    uint32_t vrs[2] = { 0, 1 };
    double in[2] = { 0.125, -3.5e-7 }, out[2] = { 0 };
    assert_int_equal(fmi_instance_set_float64(inst, vrs, 2, in), 0);
    assert_int_equal(fmi_instance_enter_initialization(inst, 0, 0, -1), 0);
    assert_int_equal(fmi_instance_get_float64(inst, vrs, 2, out), 0);
    assert_memory_equal(in, out, sizeof in);

    /* integers: range-checked before the FMU sees them */
    uint32_t vr0 = 0;
    int64_t iv = 123456, io = 0;
    assert_int_equal(fmi_instance_set_int(inst, FMI_INT32, &vr0, 1, &iv), 0);
    assert_int_equal(fmi_instance_get_int(inst, FMI_INT32, &vr0, 1, &io), 0);
    assert_int_equal(io, 123456);
    iv = -7;
    assert_int_equal(fmi_instance_set_int(inst, FMI_ENUMERATION, &vr0, 1, &iv), 0);
    assert_int_equal(fmi_instance_get_int(inst, FMI_ENUMERATION, &vr0, 1, &io), 0);
    assert_int_equal(io, -7);
    iv = (int64_t)1 << 40;
    assert_int_equal(fmi_instance_set_int(inst, FMI_INT32, &vr0, 1, &iv), FMUGW_EINVALID);
    iv = (int64_t)INT32_MIN - 1;
    assert_int_equal(fmi_instance_set_int(inst, FMI_INT32, &vr0, 1, &iv), FMUGW_EINVALID);
    assert_int_equal(fmi_instance_get_int(inst, FMI_ENUMERATION, &vr0, 1, &io), 0);
    assert_int_equal(io, -7); /* unchanged */
    iv = 1;
    assert_int_equal(fmi_instance_set_int(inst, FMI_INT8, &vr0, 1, &iv), FMUGW_EINVALID); /* no Int8 in FMI 2 */
    uint64_t u = 1;
    assert_int_equal(fmi_instance_set_uint64(inst, &vr0, 1, &u), FMUGW_EUNSUPPORTED);
    float fl = 1;
    assert_int_equal(fmi_instance_set_float32(inst, &vr0, 1, &fl), FMUGW_EUNSUPPORTED);

    bool b = true, bo = false;
    assert_int_equal(fmi_instance_set_boolean(inst, &vr0, 1, &b), 0);
    assert_int_equal(fmi_instance_get_boolean(inst, &vr0, 1, &bo), 0);
    assert_true(bo);

    const char *s = NULL;
    assert_int_equal(fmi_instance_get_string(inst, &vr0, 1, &s), 0);
    assert_string_equal(s, "hello");
    const char *w = "world";
    assert_int_equal(fmi_instance_set_string(inst, &vr0, 1, &w), 0);
    assert_int_equal(fmi_instance_get_string(inst, &vr0, 1, &s), 0);
    assert_string_equal(s, "world");

    /* the FMU's Error is mapped, and names the function */
    uint32_t bad = 99;
    assert_int_equal(fmi_instance_get_float64(inst, &bad, 1, out), FMUGW_EFMU);
    assert_non_null(strstr(fmugw_error_last(), "fmi2GetReal returned Error"));
    /* after Error only reads are allowed */
    assert_int_equal(fmi_instance_exit_initialization(inst), FMUGW_EFMU);
    assert_int_equal(fmi_instance_get_float64(inst, vrs, 1, out), 0);

    int frees = mock_counter(f->mock_so, "mock_frees");
    fmi_instance_free(inst);
    assert_int_equal(mock_counter(f->mock_so, "mock_frees"), frees + 1);
    fmi_binary_close(bin);
}

static void test_mock_step_terminate(void **state)
{
    fixture *f = *state;
    fmi_binary *bin = NULL;
    call_log cl = { 0 };
    fmi_instance_options opts = { 0 };
    opts.call_log = collect_call;
    opts.log_ctx = &cl;
    fmi_instance *inst = mock_instance(f, &bin, FMI_CS, &opts);
    uint32_t stop_vr = 2;
    double stop_at = 0.25;
    fmi_step_result res;

    assert_int_equal(fmi_instance_set_float64(inst, &stop_vr, 1, &stop_at), 0);
    assert_int_equal(fmi_instance_enter_initialization(inst, 0, 0, 1), 0);
    assert_int_equal(fmi_instance_exit_initialization(inst), 0);
    assert_int_equal(fmi_instance_do_step(inst, 0, 0.1, &res), 0);
    assert_false(res.terminate);
    assert_true(fabs(res.last_successful_time - 0.1) < 1e-15);
    assert_int_equal(fmi_instance_do_step(inst, 0.1, 0.1, &res), 0);
    /* Discard + fmi2Terminated: reported as terminate, not as an error */
    assert_int_equal(fmi_instance_do_step(inst, 0.2, 0.1, &res), 0);
    assert_true(res.terminate);
    assert_true(fabs(res.last_successful_time - 0.2) < 1e-15);
    assert_non_null(find_line(&cl, "fmi2GetBooleanStatus(s=fmi2Terminated, value=1) -> OK"));
    /* no more steps after a discarded one, but terminate is fine */
    assert_int_equal(fmi_instance_do_step(inst, 0.2, 0.1, &res), FMUGW_EFMU);
    int terms = mock_counter(f->mock_so, "mock_terminates");
    assert_int_equal(fmi_instance_terminate(inst), 0);
    assert_int_equal(mock_counter(f->mock_so, "mock_terminates"), terms + 1);

    /* call log: instantiation with its arguments, values, statuses */
    const char *line = find_line(&cl, "fmi2Instantiate(");
    assert_non_null(line);
    assert_non_null(strstr(line, "fmuGUID=\"{mock}\""));
    assert_non_null(find_line(&cl, "fmi2SetReal(vr=[2], values=[0.25]) -> OK"));
    assert_non_null(find_line(&cl, "fmi2DoStep(currentCommunicationPoint=0.20000000000000001, "
                                   "communicationStepSize=0.10000000000000001, "
                                   "noSetFMUStatePriorToCurrentPoint=1) -> Discard"));
    assert_non_null(find_line(&cl, "fmi2Terminate() -> OK"));
    size_t before = cl.total;
    fmi_instance_free(inst);
    assert_non_null(find_line(&cl, "fmi2FreeInstance()"));
    assert_int_equal(cl.total, before + 1); /* terminated already: no second fmi2Terminate */
    fmi_binary_close(bin);
}

static void test_mock_step_error(void **state)
{
    fixture *f = *state;
    fmi_binary *bin = NULL;
    msg_log ml = { 0 };
    fmi_instance_options opts = { 0 };
    opts.log = collect_msg;
    opts.log_ctx = &ml;
    fmi_instance *inst = mock_instance(f, &bin, FMI_CS, &opts);
    uint32_t fail_vr = 3;
    double one = 1;
    fmi_step_result res;
    assert_int_equal(fmi_instance_enter_initialization(inst, 0, 0, 1), 0);
    assert_int_equal(fmi_instance_set_float64(inst, &fail_vr, 1, &one), 0);
    assert_int_equal(fmi_instance_exit_initialization(inst), 0);
    assert_int_equal(fmi_instance_do_step(inst, 0.5, 0.1, &res), FMUGW_EFMU);
    assert_non_null(strstr(fmugw_error_last(), "fmi2DoStep returned Error"));
    assert_non_null(strstr(fmugw_error_last(), "step failed at t=0.5"));
    assert_int_equal(ml.status, FMI_STATUS_ERROR);
    /* the instance is unusable now, and freeing it keeps the message */
    assert_int_equal(fmi_instance_do_step(inst, 0.5, 0.1, &res), FMUGW_EFMU);
    fmugw_error_set(FMUGW_EFMU, "caller's message");
    int terms = mock_counter(f->mock_so, "mock_terminates");
    fmi_instance_free(inst);
    assert_int_equal(mock_counter(f->mock_so, "mock_terminates"), terms); /* no fmi2Terminate after Error */
    assert_string_equal(fmugw_error_last(), "caller's message");
    fmi_binary_close(bin);
}

static void test_mock_instantiate_fails(void **state)
{
    fixture *f = *state;
    fmi_binary *bin = NULL;
    fmi_instance *inst = NULL;
    fmi_model m = f->mock2;
    m.instantiation_token = "{wrong}";
    assert_int_equal(fmi_binary_open(&bin, &m, f->mock_dir, FMI_CS), 0);
    assert_int_equal(fmi_instance_new(&inst, bin, &m, NULL), FMUGW_EFMU);
    assert_null(inst);
    assert_non_null(strstr(fmugw_error_last(), "fmi2Instantiate"));
    assert_non_null(strstr(fmugw_error_last(), "bad guid {wrong} (42)"));
    fmi_binary_close(bin);
}

static void test_mock_me(void **state)
{
    fixture *f = *state;
    fmi_binary *bin = NULL;
    fmi_instance *inst = mock_instance(f, &bin, FMI_ME, NULL);
    fmi_event_result ev;
    assert_int_equal(fmi_instance_n_states(inst), 1);
    assert_int_equal(fmi_instance_n_event_indicators(inst), 1);
    assert_int_equal(fmi_instance_enter_initialization(inst, 0, 0, 10), 0);
    assert_int_equal(fmi_instance_exit_initialization(inst), 0);
    assert_int_equal(fmi_instance_update_discrete_states(inst, &ev), 0);
    assert_false(ev.discrete_states_need_update);
    assert_true(ev.next_event_time_defined);
    assert_true(ev.next_event_time == 2.5);
    assert_int_equal(fmi_instance_enter_continuous_time_mode(inst), 0);
    double x = 0.4, z = 0;
    bool enter = false, term = true;
    assert_int_equal(fmi_instance_set_states(inst, &x), 0);
    assert_int_equal(fmi_instance_get_event_indicators(inst, &z), 0);
    assert_true(fabs(z + 0.1) < 1e-15);
    assert_int_equal(fmi_instance_completed_integrator_step(inst, &enter, &term), 0);
    assert_true(enter);
    assert_false(term);
    assert_int_equal(fmi_instance_enter_step_mode(inst), FMUGW_EUNSUPPORTED);
    int terms = mock_counter(f->mock_so, "mock_terminates");
    fmi_instance_free(inst); /* still initialized: terminated first */
    assert_int_equal(mock_counter(f->mock_so, "mock_terminates"), terms + 1);
    fmi_binary_close(bin);
}

/* Resources: the default location (unpack_dir/resources) reaches the FMU
 * as a file URI (FMI 2) or a directory path (FMI 3), and Int32 values come
 * back through the int64 interface. */
static void resource(const char *version, bool explicit_dir)
{
    fmi_fmu *fmu = open_sample(version, "Resource");
    fmi_binary *bin = NULL;
    fmi_instance *inst = NULL;
    fmi_instance_options opts = { 0 };
    opts.resource_dir = explicit_dir ? fmu->resource_dir : NULL;
    assert_int_equal(fmi_binary_open(&bin, fmu->model, fmu->dir, FMI_CS), 0);
    if (fmi_instance_new(&inst, bin, fmu->model, &opts) != 0)
        fail_msg("instantiate Resource: %s", fmugw_error_last());
    assert_int_equal(fmi_instance_enter_initialization(inst, 0, 0, 1), 0);
    assert_int_equal(fmi_instance_exit_initialization(inst), 0);
    uint32_t y = vr_of(fmu->model, "y");
    int64_t v = 0;
    assert_int_equal(fmi_instance_get_int(inst, FMI_INT32, &y, 1, &v), 0);
    assert_int_equal(v, 'y');
    fmi_instance_free(inst);
    fmi_binary_close(bin);
    fmi_fmu_close(fmu);
}

static void test_resource_fmi2(void **state)
{
    (void)state;
    resource("2.0", false);
    resource("2.0", true);
}

static void test_resource_fmi3(void **state)
{
    (void)state;
    resource("3.0", false);
    resource("3.0", true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_required_functions),
        cmocka_unit_test(test_binary_path),
        cmocka_unit_test(test_mock_values),
        cmocka_unit_test(test_mock_step_terminate),
        cmocka_unit_test(test_mock_step_error),
        cmocka_unit_test(test_mock_instantiate_fails),
        cmocka_unit_test(test_mock_me),
        cmocka_unit_test(test_dahlquist_cs_fmi2),
        cmocka_unit_test(test_dahlquist_cs_fmi3),
        cmocka_unit_test(test_dahlquist_me_fmi2),
        cmocka_unit_test(test_dahlquist_me_fmi3),
        cmocka_unit_test(test_illegal_transitions_fmi2),
        cmocka_unit_test(test_illegal_transitions_fmi3),
        cmocka_unit_test(test_me_illegal_transitions),
        cmocka_unit_test(test_missing_binary),
        cmocka_unit_test(test_missing_symbol_fmi2),
        cmocka_unit_test(test_missing_symbol_fmi3),
        cmocka_unit_test(test_resource_fmi2),
        cmocka_unit_test(test_resource_fmi3),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
