#include "build_info.h"

// Package.swift defines both; a build without them (another build system) still links and says so.
#ifndef RACKSWARM_VERSION
#define RACKSWARM_VERSION "0.0.0"
#endif
#ifndef RACKSWARM_COMMIT
#define RACKSWARM_COMMIT "unknown"
#endif

const char *rackswarm_build_version(void) { return RACKSWARM_VERSION; }

const char *rackswarm_build_commit(void) { return RACKSWARM_COMMIT; }
