/* image.c: a PE image (driver, executable, DLL) opened as a target, as WinDbg's -z does with
 * an image: the file is mapped at its preferred base (ImageBase) as virtual ranges - the
 * headers, and each section's raw data at its RVA (no more than its VirtualSize; the
 * uninitialized tail a loader would zero-fill is not present) - the architecture comes from
 * the machine field, and the image is the target's one module. */
#include <stdio.h>
#include <stdlib.h>

#include "dump/dump.h"
#include "image/pe.h"

static const char *base_name(const char *path)
{
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

nk_status nk_image_open(ntkd_target *t)
{
    const nk_file *f = &t->file;
    if (f->size < 0x40 || f->data[0] != 'M' || f->data[1] != 'Z') return NTKD_E_FORMAT;
    const char *fn = nk_file_name(f);
    nk_pe *pe = NULL;
    nk_status st = nk_pe_open_buf(t->ctx, fn, f->data, (size_t)f->size, &pe);
    if (st != NTKD_OK) {
        if (!t->ctx->errmsg[0]) nk_fail(t->ctx, NTKD_E_FORMAT, "%s: not a usable PE image", fn);
        return st == NTKD_E_FORMAT ? NTKD_E_FORMAT : st;
    }
    const nk_pe_headers *h = nk_pe_hdr(pe);
    nk_dump *d = &t->d;
    d->kind = NK_KIND_IMAGE;
    d->machine = h->machine;
    switch (h->machine) {
    case NK_PE_MACHINE_AMD64: d->arch = NK_ARCH_X64; break;
    case NK_PE_MACHINE_I386: d->arch = NK_ARCH_X86; break;
    case NK_PE_MACHINE_ARM64: d->arch = NK_ARCH_ARM64; break;
    default: d->arch = NK_ARCH_UNKNOWN; break;
    }
    d->is64 = h->pe32plus;
    d->paging = NK_PAGING_NONE;
    d->nprocs = 1;
    uint64_t base = h->image_base;
    if (!h->pe32plus && base > UINT32_MAX) base &= UINT32_MAX;
    size_t n = nk_pe_section_count(pe);
    size_t cap = 0;
    d->vranges = NULL;
    d->nvranges = 0;
    if (!nk_grow((void **)&d->vranges, &cap, n + 1, sizeof *d->vranges)) {
        nk_pe_close(pe);
        return nk_fail(t->ctx, NTKD_E_NOMEM, "%s: out of memory", fn);
    }
    /* the headers: SizeOfHeaders bytes from the start of the file (at most the first
     * section's RVA) */
    uint64_t hsize = h->size_of_headers ? h->size_of_headers : 0x1000;
    for (size_t i = 0; i < n; i++) {
        const nk_pe_section *s = nk_pe_section_at(pe, i);
        if (s->rva && s->rva < hsize) hsize = s->rva;
    }
    if (hsize > f->size) hsize = f->size;
    d->vranges[d->nvranges++] = (nk_vrange){.va = base, .size = hsize, .file_off = 0};
    for (size_t i = 0; i < n; i++) {
        const nk_pe_section *s = nk_pe_section_at(pe, i);
        uint64_t size = s->raw_size;
        if (s->virtual_size && s->virtual_size < size) size = s->virtual_size;
        if (!size || !s->raw_offset) continue;
        if (s->raw_offset >= f->size) {
            nk_warn(t, "%s: section %s: raw data at file offset 0x%x is past the end of the file", fn, s->name,
                    s->raw_offset);
            continue;
        }
        if (size > f->size - s->raw_offset) {
            nk_warn(t, "%s: section %s: raw data at file offset 0x%x (0x%llx bytes) runs past the end of the "
                    "file", fn, s->name, s->raw_offset, (unsigned long long)size);
            size = f->size - s->raw_offset;
        }
        if (h->size_of_image && (uint64_t)s->rva >= h->size_of_image) {
            nk_warn(t, "%s: section %s at RVA 0x%x lies past SizeOfImage 0x%x; not mapped", fn, s->name, s->rva,
                    h->size_of_image);
            continue;
        }
        d->vranges[d->nvranges++] = (nk_vrange){.va = base + s->rva, .size = size, .file_off = s->raw_offset};
    }
    nk_vranges_check(t);
    d->modules = calloc(1, sizeof *d->modules);
    if (!d->modules) {
        nk_pe_close(pe);
        return nk_fail(t->ctx, NTKD_E_NOMEM, "%s: out of memory", fn);
    }
    nk_module *m = &d->modules[0];
    m->base = base;
    m->size = h->size_of_image;
    m->timestamp = h->timestamp;
    m->checksum = h->checksum;
    m->name = strdup(base_name(f->path ? f->path : fn));
    m->path = f->path ? strdup(f->path) : NULL;
    if (!m->name) {
        nk_pe_close(pe);
        return nk_fail(t->ctx, NTKD_E_NOMEM, "%s: out of memory", fn);
    }
    d->nmodules = 1;
    uint64_t opt = (uint64_t)h->nt_offset + 24;
    nk_dump_field(t, "PE image", "Machine", h->nt_offset + 4, h->machine, 2, NULL);
    nk_dump_field(t, "PE image", "TimeDateStamp", h->nt_offset + 8, h->timestamp, 4, NULL);
    nk_dump_field(t, "PE image", "ImageBase", opt + (h->pe32plus ? 24 : 28), base, h->pe32plus ? 8 : 4, NULL);
    nk_dump_field(t, "PE image", "SizeOfImage", opt + 56, h->size_of_image, 4, NULL);
    nk_dump_field(t, "PE image", "CheckSum", opt + 64, h->checksum, 4, NULL);
    nk_pe_close(pe);
    return NTKD_OK;
}
