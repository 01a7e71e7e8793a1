/* fuzz_rpn.c: the FrameData program evaluator. The input is split at the first NUL: the
 * bytes before it are the program (any text), the bytes after it are memory mapped at
 * address 0x1000 (4-byte reads inside it succeed, others fail). Registers and .raSearch are
 * taken from the first bytes of that memory so programs see varied states. The evaluator
 * must return a status for every input and never read outside what it was given. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "code/unwind.h"

typedef struct fmem {
    const uint8_t *data;
    size_t size;
} fmem;

static nk_status rd(void *user, uint64_t va, uint32_t *v)
{
    fmem *m = user;
    if (va < 0x1000 || va - 0x1000 > m->size || m->size - (va - 0x1000) < 4) return NTKD_E_NOTPRESENT;
    const uint8_t *p = m->data + (va - 0x1000);
    *v = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
    return NTKD_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t plen = nul ? (size_t)(nul - data) : size;
    char *prog = malloc(plen + 1);
    if (!prog) return 0;
    memcpy(prog, data, plen);
    prog[plen] = 0;
    fmem m = {.data = nul ? nul + 1 : data + size, .size = nul ? size - plen - 1 : 0};
    nk_uregs r;
    memset(&r, 0, sizeof r);
    r.arch = NK_ARCH_X86;
    for (int i = 0; i < 10; i++) {
        uint32_t v = 0x1000u + 4u * (uint32_t)i;
        if (rd(&m, 0x1000u + 4u * (uint32_t)i, &v) != NTKD_OK) v = 0x1000u + 16u * (uint32_t)i;
        r.r[i] = v;
    }
    r.valid = 0x3ff;
    nk_rpn_env e;
    memset(&e, 0, sizeof e);
    e.regs = &r;
    e.ra_search = r.r[4] + 8;
    e.read32 = rd;
    e.read_user = &m;
    e.have_sizes = true;
    e.cb_locals = 16;
    e.cb_saved_regs = 8;
    e.cb_params = 4;
    char err[96];
    (void)nk_rpn_eval(&e, prog, err, sizeof err);
    /* a second evaluation in the same environment (temporaries kept), with a tiny buffer */
    char tiny[4];
    (void)nk_rpn_eval(&e, prog, tiny, sizeof tiny);
    free(prog);
    return 0;
}
