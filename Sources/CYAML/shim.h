#ifndef RACKSWARM_CYAML_SHIM_H
#define RACKSWARM_CYAML_SHIM_H
#include <yaml.h>
#endif
