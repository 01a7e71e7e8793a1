/* ph_scene7.c: placeholders for the issue-7 scenes (each helper deletes its stub). */
#include "scene.h"

void scene_pool(kern *k, const sc_base *b)
{
    (void)k, (void)b;
    sc_die("scene pool: not implemented yet");
}

void scene_verifier(kern *k, const sc_base *b)
{
    (void)k, (void)b;
    sc_die("scene verifier: not implemented yet");
}

void scene_mm(kern *k, const sc_base *b)
{
    (void)k, (void)b;
    sc_die("scene mm: not implemented yet");
}

void scene_fltmgr(kern *k, const sc_base *b)
{
    (void)k, (void)b;
    sc_die("scene fltmgr: not implemented yet");
}
