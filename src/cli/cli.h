/* cli.h: what the two files of the ntkd program share. */
#ifndef NTKD_CLI_H
#define NTKD_CLI_H

#include <stddef.h>

/* batch.c: `ntkd analyze FILE|DIR ...` (argv[0] is "analyze"). */
int batch_main(int argc, char **argv);

/* main.c: where parsed symbol tables are cached: $NTKD_CACHE_DIR ("off" or empty: no cache),
 * else $XDG_CACHE_HOME/ntkd/tables, else ~/.cache/ntkd/tables; NULL when there is none. */
const char *ntkd_cli_table_cache(char *buf, size_t len);

#endif
