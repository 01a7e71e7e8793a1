/* ph_kobj.c: placeholders for kobj.h functions not yet written (delete each stub when implemented). */
#include "kobj/kobj.h"
#pragma GCC diagnostic ignored "-Wunused-parameter"

nk_typesrc *nk_k_types(ntkd_target *t)
{
    return NULL;
}

nk_status nk_k_field(ntkd_target *t, const char *type, const char *field, nk_kfield *out)
{
    return NTKD_E_UNSUPPORTED;
}

bool nk_k_has(ntkd_target *t, const char *type, const char *field)
{
    return false;
}

nk_status nk_k_offset(ntkd_target *t, const char *type, const char *field, uint64_t *off)
{
    return NTKD_E_UNSUPPORTED;
}

nk_status nk_k_sizeof(ntkd_target *t, const char *type, uint64_t *size)
{
    return NTKD_E_UNSUPPORTED;
}

nk_status nk_k_read(ntkd_target *t, uint64_t addr, const char *type, const char *field, uint64_t *v)
{
    return NTKD_E_UNSUPPORTED;
}

uint64_t nk_k_get(ntkd_target *t, uint64_t addr, const char *type, const char *field, uint64_t dflt)
{
    return 0;
}

nk_status nk_k_global(ntkd_target *t, const char *name, uint64_t *va)
{
    return NTKD_E_UNSUPPORTED;
}

nk_status nk_k_global_ptr(ntkd_target *t, const char *name, uint64_t *v)
{
    return NTKD_E_UNSUPPORTED;
}

char *nk_k_ustr(ntkd_target *t, uint64_t addr)
{
    return NULL;
}

nk_status nk_k_list(ntkd_target *t, uint64_t head, size_t limit, nk_k_list_fn fn, void *u, nk_strbuf *why)
{
    return NTKD_E_UNSUPPORTED;
}

unsigned nk_k_ncpu(ntkd_target *t)
{
    return 0;
}

nk_status nk_k_prcb(ntkd_target *t, unsigned cpu, uint64_t *prcb)
{
    return NTKD_E_UNSUPPORTED;
}

nk_status nk_k_pcr(ntkd_target *t, unsigned cpu, uint64_t *pcr)
{
    return NTKD_E_UNSUPPORTED;
}

nk_status nk_k_processes(ntkd_target *t, nk_kproc **out, size_t *n, nk_strbuf *why)
{
    return NTKD_E_UNSUPPORTED;
}

nk_status nk_k_process_read(ntkd_target *t, uint64_t eprocess, nk_kproc *out)
{
    return NTKD_E_UNSUPPORTED;
}

nk_status nk_k_thread_read(ntkd_target *t, uint64_t ethread, nk_kthread *out)
{
    return NTKD_E_UNSUPPORTED;
}

nk_status nk_k_threads(ntkd_target *t, uint64_t eprocess, nk_kthread **out, size_t *n, nk_strbuf *why)
{
    return NTKD_E_UNSUPPORTED;
}

nk_status nk_k_thread_of_stack(ntkd_target *t, uint64_t addr, uint64_t *ethread)
{
    return NTKD_E_UNSUPPORTED;
}

size_t nk_k_wait_objects(ntkd_target *t, uint64_t ethread, uint64_t *objs, size_t max)
{
    return 0;
}

const char *nk_k_enum_name(ntkd_target *t, const char *enum_type, int64_t value, char *buf, size_t len)
{
    return NULL;
}

nk_status nk_k_thread_regs(ntkd_target *t, uint64_t ethread, struct nk_uregs *out)
{
    return NTKD_E_UNSUPPORTED;
}

void nk_k_set_process(ntkd_target *t, uint64_t eprocess)
{
    
}

nk_status nk_k_object(ntkd_target *t, uint64_t body, nk_kobject *out)
{
    return NTKD_E_UNSUPPORTED;
}

nk_status nk_k_object_type(ntkd_target *t, const char *name, uint64_t *type_obj)
{
    return NTKD_E_UNSUPPORTED;
}

nk_status nk_k_objects_of_type(ntkd_target *t, uint64_t type_obj, nk_k_obj_fn fn, void *u, nk_strbuf *why)
{
    return NTKD_E_UNSUPPORTED;
}

nk_status nk_k_dir_each(ntkd_target *t, uint64_t dir, nk_k_obj_fn fn, void *u, nk_strbuf *why)
{
    return NTKD_E_UNSUPPORTED;
}

nk_status nk_k_lookup(ntkd_target *t, const char *path, uint64_t *body)
{
    return NTKD_E_UNSUPPORTED;
}

char *nk_k_object_path(ntkd_target *t, uint64_t body, char *buf, size_t len)
{
    return NULL;
}

char *nk_k_driver_name(ntkd_target *t, uint64_t drvobj, char *buf, size_t len)
{
    return NULL;
}

char *nk_k_device_driver_name(ntkd_target *t, uint64_t devobj, char *buf, size_t len)
{
    return NULL;
}

size_t nk_k_driver_devices(ntkd_target *t, uint64_t drvobj, uint64_t *out, size_t max)
{
    return 0;
}

size_t nk_k_device_stack(ntkd_target *t, uint64_t devobj, uint64_t *out, size_t max)
{
    return 0;
}

nk_status nk_k_thread_irps(ntkd_target *t, uint64_t ethread, nk_k_irp_fn fn, void *u, nk_strbuf *why)
{
    return NTKD_E_UNSUPPORTED;
}
