// libFuzzer's entry points as a harness's main sees them: the driver that runs the fuzzing loop (libFuzzer's own
// main calls it too), and the one input callback each harness defines with @_cdecl.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
