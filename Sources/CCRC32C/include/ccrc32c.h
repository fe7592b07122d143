// Hardware CRC-32C (the SSE4.2 crc32 instruction) for Basics.CRC32C. The Swift
// slicing-by-8 code stays the fallback and the test oracle.
#ifndef CCRC32C_H
#define CCRC32C_H

#include <stddef.h>
#include <stdint.h>

/// 1 when this CPU has the instruction (checked once with cpuid), else 0.
int ccrc32c_hardware_available(void);

/// The CRC-32C of `length` bytes at `data`, continuing from `crc` (the value a previous call
/// returned; 0 to start), with the usual pre- and post-inversion. Only call when
/// `ccrc32c_hardware_available()` returned 1.
uint32_t ccrc32c_hardware(uint32_t crc, const void *data, size_t length);

#endif
