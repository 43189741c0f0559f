/* cmd_check.c — placeholder until the compiler lands. */
#include <stdio.h>

#include "cli.h"

int cmd_check(int argc, char **argv) { (void)argc; (void)argv; return 2; }
int cmd_build(int argc, char **argv) { (void)argc; (void)argv; return 2; }
int cmd_disasm(int argc, char **argv) { (void)argc; (void)argv; return 2; }
