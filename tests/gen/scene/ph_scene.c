/* ph_scene.c: placeholders for scene.h functions not yet written (helpers delete their stubs). */
#include "scene.h"
#include <stdarg.h>
#include <stdlib.h>

#pragma GCC diagnostic ignored "-Wunused-parameter"
void *sc_alloc0(size_t n)
{
    sc_die("%s: not implemented", "sc_alloc0");
}

lay *lay_open(const char *path)
{
    sc_die("%s: not implemented", "lay_open");
}

void lay_free(lay *L)
{
    sc_die("%s: not implemented", "lay_free");
}

unsigned lay_ptr(const lay *L)
{
    sc_die("%s: not implemented", "lay_ptr");
}

bool lay_pae(const lay *L)
{
    sc_die("%s: not implemented", "lay_pae");
}

const char *lay_guid_age(const lay *L)
{
    sc_die("%s: not implemented", "lay_guid_age");
}

uint32_t lay_machine(const lay *L)
{
    sc_die("%s: not implemented", "lay_machine");
}

bool lay_has_type(const lay *L, const char *type)
{
    sc_die("%s: not implemented", "lay_has_type");
}

uint64_t lay_size(const lay *L, const char *type)
{
    sc_die("%s: not implemented", "lay_size");
}

int64_t lay_off(const lay *L, const char *type, const char *field)
{
    sc_die("%s: not implemented", "lay_off");
}

uint64_t lay_off_req(const lay *L, const char *type, const char *field)
{
    sc_die("%s: not implemented", "lay_off_req");
}

bool lay_field(const lay *L, const char *type, const char *field, uint64_t *off, uint64_t *size, unsigned *bitpos, unsigned *bitlen)
{
    sc_die("%s: not implemented", "lay_field");
}

uint64_t lay_sym(const lay *L, const char *name)
{
    sc_die("%s: not implemented", "lay_sym");
}

bool lay_enum(const lay *L, const char *enum_name, const char *member, int64_t *value)
{
    sc_die("%s: not implemented", "lay_enum");
}

world *w_new(const lay *L, sc_kind kind, uint64_t seed)
{
    sc_die("%s: not implemented", "w_new");
}

void w_free(world *w)
{
    sc_die("%s: not implemented", "w_free");
}

const lay *w_lay(const world *w)
{
    sc_die("%s: not implemented", "w_lay");
}

unsigned w_ptr(const world *w)
{
    sc_die("%s: not implemented", "w_ptr");
}

int w_space_new(world *w)
{
    sc_die("%s: not implemented", "w_space_new");
}

uint64_t w_space_dtb(world *w, int space)
{
    sc_die("%s: not implemented", "w_space_dtb");
}

uint64_t w_alloc(world *w, uint64_t size, uint64_t align)
{
    sc_die("%s: not implemented", "w_alloc");
}

uint64_t w_ualloc(world *w, int space, uint64_t size)
{
    sc_die("%s: not implemented", "w_ualloc");
}

void w_write(world *w, uint64_t va, const void *data, size_t n)
{
    sc_die("%s: not implemented", "w_write");
}

void w_uwrite(world *w, int space, uint64_t va, const void *data, size_t n)
{
    sc_die("%s: not implemented", "w_uwrite");
}

void w_read(world *w, uint64_t va, void *out, size_t n)
{
    sc_die("%s: not implemented", "w_read");
}

void w_put(world *w, uint64_t va, unsigned bytes, uint64_t v)
{
    sc_die("%s: not implemented", "w_put");
}

uint64_t w_get(world *w, uint64_t va, unsigned bytes)
{
    sc_die("%s: not implemented", "w_get");
}

void w_pointer(world *w, uint64_t va, uint64_t v)
{
    sc_die("%s: not implemented", "w_pointer");
}

void w_set(world *w, uint64_t obj, const char *type, const char *field, uint64_t v)
{
    sc_die("%s: not implemented", "w_set");
}

bool w_try(world *w, uint64_t obj, const char *type, const char *field, uint64_t v)
{
    sc_die("%s: not implemented", "w_try");
}

uint64_t w_field(world *w, uint64_t obj, const char *type, const char *field)
{
    sc_die("%s: not implemented", "w_field");
}

void w_list_init(world *w, uint64_t head)
{
    sc_die("%s: not implemented", "w_list_init");
}

void w_list_tail(world *w, uint64_t head, uint64_t entry)
{
    sc_die("%s: not implemented", "w_list_tail");
}

void w_ustr(world *w, uint64_t us, const char *s)
{
    sc_die("%s: not implemented", "w_ustr");
}

void w_drop(world *w, uint64_t va)
{
    sc_die("%s: not implemented", "w_drop");
}

void w_write_dump(world *w, const sc_header *h, const char *path)
{
    sc_die("%s: not implemented", "w_write_dump");
}

void mf(const char *fmt, ...)
{
    (void)fmt;
}

kern *k_new(world *w, sc_kind kind, unsigned ncpu)
{
    sc_die("%s: not implemented", "k_new");
}

uint64_t k_sym(kern *k, const char *name)
{
    sc_die("%s: not implemented", "k_sym");
}

uint64_t k_sym_opt(kern *k, const char *name)
{
    sc_die("%s: not implemented", "k_sym_opt");
}

uint64_t k_nt_func(kern *k, const char *name)
{
    sc_die("%s: not implemented", "k_nt_func");
}

uint64_t k_driver_image(kern *k, const char *file_name, const char *const *funcs, size_t nfuncs)
{
    sc_die("%s: not implemented", "k_driver_image");
}

uint64_t k_func(kern *k, const char *module_file, const char *func)
{
    sc_die("%s: not implemented", "k_func");
}

uint64_t k_ret(kern *k, uint64_t func_va, unsigned off)
{
    sc_die("%s: not implemented", "k_ret");
}

void k_bugcheck(kern *k, uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4)
{
    sc_die("%s: not implemented", "k_bugcheck");
}

void k_finish(kern *k, const char *path)
{
    sc_die("%s: not implemented", "k_finish");
}

uint64_t k_process(kern *k, const char *image_name, uint32_t pid, uint64_t parent_eprocess)
{
    sc_die("%s: not implemented", "k_process");
}

uint64_t k_thread(kern *k, uint64_t process, uint32_t tid, unsigned state, unsigned wait_reason, const uint64_t *rets, size_t nrets)
{
    sc_die("%s: not implemented", "k_thread");
}

void k_thread_stack(kern *k, uint64_t thread, uint64_t *base, uint64_t *limit)
{
    sc_die("%s: not implemented", "k_thread_stack");
}

void k_thread_wait_on(kern *k, uint64_t thread, uint64_t object)
{
    sc_die("%s: not implemented", "k_thread_wait_on");
}

void k_run_on(kern *k, uint64_t thread, unsigned cpu)
{
    sc_die("%s: not implemented", "k_run_on");
}

uint64_t k_teb(kern *k, uint64_t thread, uint32_t last_error, uint32_t last_status)
{
    sc_die("%s: not implemented", "k_teb");
}

uint64_t ob_type(kern *k, const char *name)
{
    sc_die("%s: not implemented", "ob_type");
}

uint64_t ob_create(kern *k, const char *type, const char *name, uint64_t dir, uint64_t body_size)
{
    sc_die("%s: not implemented", "ob_create");
}

uint64_t ob_alloc(kern *k, const char *type, const char *name, uint64_t dir, uint64_t body_size)
{
    sc_die("%s: not implemented", "ob_alloc");
}

uint64_t ob_root(kern *k)
{
    sc_die("%s: not implemented", "ob_root");
}

uint64_t ob_dir(kern *k, uint64_t parent, const char *name)
{
    sc_die("%s: not implemented", "ob_dir");
}

void ob_symlink(kern *k, uint64_t dir, const char *name, const char *target)
{
    sc_die("%s: not implemented", "ob_symlink");
}

uint64_t io_driver(kern *k, const char *name , uint64_t image_base, const char *image_file)
{
    sc_die("%s: not implemented", "io_driver");
}

uint64_t io_device(kern *k, uint64_t driver, uint64_t lower, uint64_t ext_size, const char *name, uint32_t device_type)
{
    sc_die("%s: not implemented", "io_device");
}

uint64_t io_devnode(kern *k, uint64_t parent, uint64_t pdo, const char *instance, unsigned state)
{
    sc_die("%s: not implemented", "io_devnode");
}

uint64_t io_irp(kern *k, uint64_t thread, uint64_t top, unsigned nstack, unsigned cur, const uint8_t *majors, const uint8_t *minors)
{
    sc_die("%s: not implemented", "io_irp");
}

void io_irp_stack(kern *k, uint64_t irp, unsigned index, uint64_t device, uint64_t completion, uint8_t control)
{
    sc_die("%s: not implemented", "io_irp_stack");
}

uint64_t ex_resource(kern *k)
{
    sc_die("%s: not implemented", "ex_resource");
}

void ex_resource_own(kern *k, uint64_t res, uint64_t owner , bool exclusive)
{
    sc_die("%s: not implemented", "ex_resource_own");
}

void ex_resource_wait(kern *k, uint64_t res, uint64_t thread, bool exclusive)
{
    sc_die("%s: not implemented", "ex_resource_wait");
}

uint64_t ex_dpc(kern *k, unsigned cpu, uint64_t routine, uint64_t context)
{
    sc_die("%s: not implemented", "ex_dpc");
}

uint64_t ex_timer(kern *k, uint64_t due_time, uint64_t dpc)
{
    sc_die("%s: not implemented", "ex_timer");
}

void scene_build(const sc_opts *o)
{
    sc_die("%s: not implemented", "scene_build");
}

_Noreturn void sc_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ntkd-genscene: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}
int main(void) { sc_die("not implemented"); }
