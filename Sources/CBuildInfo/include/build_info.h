#ifndef RACKSWARM_BUILD_INFO_H
#define RACKSWARM_BUILD_INFO_H

/// The release version, as Package.swift sets it.
const char *rackswarm_build_version(void);

/// The git commit the build was made from (Package.swift reads it at build time), or "unknown".
const char *rackswarm_build_commit(void);

#endif
