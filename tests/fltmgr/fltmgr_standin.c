/* fltmgr_standin.c: the stand-in fltmgr.sys built into a DLL only for its PDB (see
 * fltmgr_standin.h: a SYNTHETIC layout, not the real filter manager's). It defines the global
 * FltGlobals (exported, so tools find its RVA in the export table) and mentions every
 * stand-in structure so that the compiler writes each one's type record. The read-only pad
 * puts FltGlobals above the code the scene generator lays out at the start of its
 * fltmgr.sys image (tests/gen/scene/fltmgr.c). */
#include "fltmgr_standin.h"

__declspec(dllexport) const UCHAR FltpLayoutPad[0x20000] = {1};

__declspec(dllexport) GLOBALS FltGlobals;

/* one of each, so that every structure's type record is emitted */
struct FltpAllTypes {
    FLT_OBJECT Object;
    FLT_RESOURCE_LIST_HEAD ResourceList;
    FLTP_FRAME Frame;
    FLT_FILTER Filter;
    FLT_VOLUME Volume;
    FLT_INSTANCE Instance;
#ifndef FLT_STANDIN_NO_LEGACY_RECORDS
    FLTP_LEGACY_FILTER Legacy;
#endif
    CALLBACK_CTRL Callbacks;
};
__declspec(dllexport) struct FltpAllTypes FltpTypeAnchor;

/* The layout this compiler gave the stand-in structures (fltmgr_fields.h order): {offset, size}
 * of each field, {size, ~0} for each structure. fltlay reads it from the image: for the x64
 * image to check its own offsetof() against it, for the x86 image as the layout. */
#define FT(N, T) {sizeof(T), 0xffffffffu},
#define FB(T, F) {__builtin_offsetof(T, F), sizeof(((T *)0)->F)},
#define FS(T, F, SUB) FB(T, F)
__declspec(dllexport) const ULONG FltpLayout[][2] = {
#include "fltmgr_fields.h"
};
#undef FT
#undef FB
#undef FS
