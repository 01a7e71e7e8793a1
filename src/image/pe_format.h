/* pe_format.h: the on-disk PE structures the reader parses, declared for their layout only.
 * The parsers read fields with the little-endian loaders at offsetof() these declarations, so
 * the asserts below pin the offsets the code uses. Facts: Microsoft's "PE Format" document,
 * "x64 exception handling", "ARM64 exception handling" and the VS_VERSIONINFO reference. */
#ifndef NTKD_IMAGE_PE_FORMAT_H
#define NTKD_IMAGE_PE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

typedef struct pe_dos_header {
    uint16_t e_magic;        /* "MZ" */
    uint16_t e_fields[29];
    uint32_t e_lfanew;       /* file offset of the NT headers */
} pe_dos_header;
_Static_assert(sizeof(pe_dos_header) == 64, "IMAGE_DOS_HEADER");
_Static_assert(offsetof(pe_dos_header, e_lfanew) == 60, "e_lfanew");

typedef struct pe_file_header {
    uint16_t Machine;
    uint16_t NumberOfSections;
    uint32_t TimeDateStamp;
    uint32_t PointerToSymbolTable;
    uint32_t NumberOfSymbols;
    uint16_t SizeOfOptionalHeader;
    uint16_t Characteristics;
} pe_file_header;
_Static_assert(sizeof(pe_file_header) == 20, "IMAGE_FILE_HEADER");
_Static_assert(offsetof(pe_file_header, TimeDateStamp) == 4, "TimeDateStamp");
_Static_assert(offsetof(pe_file_header, SizeOfOptionalHeader) == 16, "SizeOfOptionalHeader");

#define PE_NT_SIGNATURE_SIZE 4u  /* "PE\0\0" before the file header */

typedef struct pe_data_directory {
    uint32_t VirtualAddress;
    uint32_t Size;
} pe_data_directory;
_Static_assert(sizeof(pe_data_directory) == 8, "IMAGE_DATA_DIRECTORY");

typedef struct pe_optional_header32 {
    uint16_t Magic;
    uint8_t MajorLinkerVersion, MinorLinkerVersion;
    uint32_t SizeOfCode, SizeOfInitializedData, SizeOfUninitializedData;
    uint32_t AddressOfEntryPoint, BaseOfCode, BaseOfData;
    uint32_t ImageBase;
    uint32_t SectionAlignment, FileAlignment;
    uint16_t MajorOperatingSystemVersion, MinorOperatingSystemVersion;
    uint16_t MajorImageVersion, MinorImageVersion;
    uint16_t MajorSubsystemVersion, MinorSubsystemVersion;
    uint32_t Win32VersionValue, SizeOfImage, SizeOfHeaders, CheckSum;
    uint16_t Subsystem, DllCharacteristics;
    uint32_t SizeOfStackReserve, SizeOfStackCommit, SizeOfHeapReserve, SizeOfHeapCommit;
    uint32_t LoaderFlags, NumberOfRvaAndSizes;
    pe_data_directory DataDirectory[16];
} pe_optional_header32;
_Static_assert(sizeof(pe_optional_header32) == 224, "IMAGE_OPTIONAL_HEADER32");
_Static_assert(offsetof(pe_optional_header32, ImageBase) == 28, "ImageBase32");
_Static_assert(offsetof(pe_optional_header32, SizeOfImage) == 56, "SizeOfImage32");
_Static_assert(offsetof(pe_optional_header32, CheckSum) == 64, "CheckSum32");
_Static_assert(offsetof(pe_optional_header32, SizeOfStackReserve) == 72, "StackReserve32");
_Static_assert(offsetof(pe_optional_header32, NumberOfRvaAndSizes) == 92, "NumberOfRvaAndSizes32");
_Static_assert(offsetof(pe_optional_header32, DataDirectory) == 96, "DataDirectory32");

typedef struct pe_optional_header64 {
    uint16_t Magic;
    uint8_t MajorLinkerVersion, MinorLinkerVersion;
    uint32_t SizeOfCode, SizeOfInitializedData, SizeOfUninitializedData;
    uint32_t AddressOfEntryPoint, BaseOfCode;
    uint64_t ImageBase;
    uint32_t SectionAlignment, FileAlignment;
    uint16_t MajorOperatingSystemVersion, MinorOperatingSystemVersion;
    uint16_t MajorImageVersion, MinorImageVersion;
    uint16_t MajorSubsystemVersion, MinorSubsystemVersion;
    uint32_t Win32VersionValue, SizeOfImage, SizeOfHeaders, CheckSum;
    uint16_t Subsystem, DllCharacteristics;
    uint64_t SizeOfStackReserve, SizeOfStackCommit, SizeOfHeapReserve, SizeOfHeapCommit;
    uint32_t LoaderFlags, NumberOfRvaAndSizes;
    pe_data_directory DataDirectory[16];
} pe_optional_header64;
_Static_assert(sizeof(pe_optional_header64) == 240, "IMAGE_OPTIONAL_HEADER64");
_Static_assert(offsetof(pe_optional_header64, ImageBase) == 24, "ImageBase64");
_Static_assert(offsetof(pe_optional_header64, SizeOfImage) == 56, "SizeOfImage64");
_Static_assert(offsetof(pe_optional_header64, CheckSum) == 64, "CheckSum64");
_Static_assert(offsetof(pe_optional_header64, SizeOfStackReserve) == 72, "StackReserve64");
_Static_assert(offsetof(pe_optional_header64, NumberOfRvaAndSizes) == 108, "NumberOfRvaAndSizes64");
_Static_assert(offsetof(pe_optional_header64, DataDirectory) == 112, "DataDirectory64");
/* Fields before ImageBase and from SectionAlignment to DllCharacteristics share offsets. */
_Static_assert(offsetof(pe_optional_header32, SectionAlignment) ==
               offsetof(pe_optional_header64, SectionAlignment), "shared layout");
_Static_assert(offsetof(pe_optional_header32, DllCharacteristics) ==
               offsetof(pe_optional_header64, DllCharacteristics), "shared layout");

#define PE_MAGIC_PE32 0x10b
#define PE_MAGIC_PE32PLUS 0x20b

typedef struct pe_section_header {
    char Name[8];
    uint32_t VirtualSize;
    uint32_t VirtualAddress;
    uint32_t SizeOfRawData;
    uint32_t PointerToRawData;
    uint32_t PointerToRelocations;
    uint32_t PointerToLinenumbers;
    uint16_t NumberOfRelocations;
    uint16_t NumberOfLinenumbers;
    uint32_t Characteristics;
} pe_section_header;
_Static_assert(sizeof(pe_section_header) == 40, "IMAGE_SECTION_HEADER");
_Static_assert(offsetof(pe_section_header, Characteristics) == 36, "Characteristics");

typedef struct pe_export_directory {
    uint32_t Characteristics;
    uint32_t TimeDateStamp;
    uint16_t MajorVersion, MinorVersion;
    uint32_t Name;
    uint32_t Base;
    uint32_t NumberOfFunctions;
    uint32_t NumberOfNames;
    uint32_t AddressOfFunctions;
    uint32_t AddressOfNames;
    uint32_t AddressOfNameOrdinals;
} pe_export_directory;
_Static_assert(sizeof(pe_export_directory) == 40, "IMAGE_EXPORT_DIRECTORY");
_Static_assert(offsetof(pe_export_directory, AddressOfNameOrdinals) == 36, "AddressOfNameOrdinals");

typedef struct pe_debug_directory {
    uint32_t Characteristics;
    uint32_t TimeDateStamp;
    uint16_t MajorVersion, MinorVersion;
    uint32_t Type;
    uint32_t SizeOfData;
    uint32_t AddressOfRawData;
    uint32_t PointerToRawData;
} pe_debug_directory;
_Static_assert(sizeof(pe_debug_directory) == 28, "IMAGE_DEBUG_DIRECTORY");
_Static_assert(offsetof(pe_debug_directory, PointerToRawData) == 24, "PointerToRawData");

/* CodeView records the debug directory points to. */
typedef struct pe_cv_rsds {
    uint32_t Signature;      /* "RSDS" */
    uint8_t Guid[16];
    uint32_t Age;
    /* char PdbFileName[] */
} pe_cv_rsds;
_Static_assert(sizeof(pe_cv_rsds) == 24, "CV_INFO_PDB70 header");

typedef struct pe_cv_nb10 {
    uint32_t Signature;      /* "NB10" */
    uint32_t Offset;
    uint32_t TimeStamp;
    uint32_t Age;
    /* char PdbFileName[] */
} pe_cv_nb10;
_Static_assert(sizeof(pe_cv_nb10) == 16, "CV_INFO_PDB20 header");

#define PE_CV_RSDS 0x53445352u /* "RSDS" */
#define PE_CV_NB10 0x3031424eu /* "NB10" */

typedef struct pe_resource_directory {
    uint32_t Characteristics;
    uint32_t TimeDateStamp;
    uint16_t MajorVersion, MinorVersion;
    uint16_t NumberOfNamedEntries;
    uint16_t NumberOfIdEntries;
    /* entries follow: named ones first, then by id */
} pe_resource_directory;
_Static_assert(sizeof(pe_resource_directory) == 16, "IMAGE_RESOURCE_DIRECTORY");
_Static_assert(offsetof(pe_resource_directory, NumberOfIdEntries) == 14, "NumberOfIdEntries");

typedef struct pe_resource_entry {
    uint32_t Name;           /* bit 31: offset of a counted UTF-16 name; else an id */
    uint32_t OffsetToData;   /* bit 31: offset of a subdirectory; else of a data entry */
} pe_resource_entry;
_Static_assert(sizeof(pe_resource_entry) == 8, "IMAGE_RESOURCE_DIRECTORY_ENTRY");

typedef struct pe_resource_data {
    uint32_t OffsetToData;   /* an RVA */
    uint32_t Size;
    uint32_t CodePage;
    uint32_t Reserved;
} pe_resource_data;
_Static_assert(sizeof(pe_resource_data) == 16, "IMAGE_RESOURCE_DATA_ENTRY");

#define PE_RT_VERSION 16

typedef struct pe_fixed_file_info {
    uint32_t dwSignature;    /* 0xFEEF04BD */
    uint32_t dwStrucVersion;
    uint32_t dwFileVersionMS, dwFileVersionLS;
    uint32_t dwProductVersionMS, dwProductVersionLS;
    uint32_t dwFileFlagsMask, dwFileFlags;
    uint32_t dwFileOS, dwFileType, dwFileSubtype;
    uint32_t dwFileDateMS, dwFileDateLS;
} pe_fixed_file_info;
_Static_assert(sizeof(pe_fixed_file_info) == 52, "VS_FIXEDFILEINFO");
_Static_assert(offsetof(pe_fixed_file_info, dwProductVersionLS) == 20, "dwProductVersionLS");
_Static_assert(offsetof(pe_fixed_file_info, dwFileDateLS) == 48, "dwFileDateLS");

#define PE_VS_FFI_SIGNATURE 0xFEEF04BDu

/* The header of every VS_VERSIONINFO / StringFileInfo / StringTable / String / Var block. */
typedef struct pe_version_block {
    uint16_t wLength;        /* the block with its children, in bytes */
    uint16_t wValueLength;   /* the value: bytes (binary) or UTF-16 units (text) */
    uint16_t wType;          /* 1: text, 0: binary */
    /* WCHAR szKey[]; padding to 4; value; padding to 4; children */
} pe_version_block;
_Static_assert(sizeof(pe_version_block) == 6, "version block header");

/* x64 */
typedef struct pe_runtime_function {
    uint32_t BeginAddress;
    uint32_t EndAddress;
    uint32_t UnwindInfoAddress;
} pe_runtime_function;
_Static_assert(sizeof(pe_runtime_function) == 12, "RUNTIME_FUNCTION");

typedef struct pe_unwind_info {
    uint8_t VersionAndFlags; /* Version: 3 bits, Flags: 5 bits */
    uint8_t SizeOfProlog;
    uint8_t CountOfCodes;
    uint8_t FrameRegisterAndOffset; /* FrameRegister: 4 bits, FrameOffset: 4 bits */
    /* UNWIND_CODE UnwindCode[CountOfCodes rounded up to even]; then handler or chain */
} pe_unwind_info;
_Static_assert(sizeof(pe_unwind_info) == 4, "UNWIND_INFO header");

typedef struct pe_unwind_code {
    uint8_t CodeOffset;
    uint8_t OpAndInfo;       /* UnwindOp: low 4 bits, OpInfo: high 4 bits */
} pe_unwind_code;
_Static_assert(sizeof(pe_unwind_code) == 2, "UNWIND_CODE");

/* ARM64 .pdata entry: the function start and a word that is either an .xdata RVA (low two
 * bits 0) or packed unwind data. */
typedef struct pe_arm64_runtime_function {
    uint32_t BeginAddress;
    uint32_t UnwindData;
} pe_arm64_runtime_function;
_Static_assert(sizeof(pe_arm64_runtime_function) == 8, "ARM64_RUNTIME_FUNCTION");

#endif
