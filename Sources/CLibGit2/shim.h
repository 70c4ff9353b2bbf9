#ifndef RACKSWARM_CLIBGIT2_SHIM_H
#define RACKSWARM_CLIBGIT2_SHIM_H
#include <git2.h>
#endif
