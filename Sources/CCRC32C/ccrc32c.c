#include "ccrc32c.h"

#include <string.h>

#if defined(__x86_64__)

// The crc32 instruction has a latency of three cycles but can start one every cycle, so a
// single dependent chain uses a third of it. Large buffers are cut into three blocks of
// equal length whose CRCs run as three independent chains in one loop; the three results
// are then joined: CRC(A|B) = shift(CRC(A), |B|) ^ CRC0(B), where CRC0 starts from a zero
// register and shift(c, n) = c * x^(8n) mod P (the register after n zero bytes). shift is
// linear in c, so for a fixed n it is four table lookups, one per byte of c; the tables are
// built once from x^(8n) mod P.

#define POLY 0x82F63B78u  // reflected Castagnoli polynomial

// Two block lengths per stream: LONG for big buffers, SHORT for what is left (and for
// buffers of a few hundred bytes).
#define LONG_BYTES 1024
#define SHORT_BYTES 128

static uint32_t shift_long[4][256];
static uint32_t shift_short[4][256];

// a * b mod P, reflected: bit 31 holds the coefficient of x^0.
static uint32_t multiply_mod_p(uint32_t a, uint32_t b) {
    uint32_t product = 0;
    for (int i = 0; i < 32; i++) {  // b walks through b * x^i
        if (a & (0x80000000u >> i)) product ^= b;
        b = (b & 1) ? (b >> 1) ^ POLY : b >> 1;
    }
    return product;
}

// x^(8 * bytes) mod P.
static uint32_t x_to_the_bytes(size_t bytes) {
    uint32_t power = 0x80000000u;  // x^0
    for (size_t i = 0; i < 8 * bytes; i++) power = (power & 1) ? (power >> 1) ^ POLY : power >> 1;
    return power;
}

static void build_shift_table(uint32_t table[4][256], size_t bytes) {
    uint32_t power = x_to_the_bytes(bytes);
    for (int k = 0; k < 4; k++) {
        for (uint32_t b = 0; b < 256; b++) table[k][b] = multiply_mod_p(b << (8 * k), power);
    }
}

static inline uint32_t shift(const uint32_t table[4][256], uint32_t c) {
    return table[0][c & 0xFF] ^ table[1][(c >> 8) & 0xFF] ^ table[2][(c >> 16) & 0xFF] ^ table[3][c >> 24];
}

static int hardware_available = 0;

__attribute__((constructor))
static void ccrc32c_init(void) {
    build_shift_table(shift_long, LONG_BYTES);
    build_shift_table(shift_short, SHORT_BYTES);
    // Constructors run in no fixed order: the CPU feature data may not be filled in yet.
    __builtin_cpu_init();
    hardware_available = __builtin_cpu_supports("sse4.2") ? 1 : 0;
}

int ccrc32c_hardware_available(void) {
    return hardware_available;
}

static inline uint64_t load64(const unsigned char *p) {
    uint64_t word;
    memcpy(&word, p, 8);  // unaligned load; x86 is little-endian, as the CRC expects
    return word;
}

// Three chains over blocks of `block` bytes (a multiple of 8) while 3 * block bytes remain.
__attribute__((target("sse4.2")))
static inline __attribute__((always_inline)) uint64_t three_streams(uint64_t c, const unsigned char **data, size_t *length, size_t block,
                              const uint32_t table[4][256]) {
    const unsigned char *p = *data;
    size_t n = *length;
    while (n >= 3 * block) {
        uint64_t c1 = 0, c2 = 0;
        const unsigned char *end = p + block;
        do {
            c = __builtin_ia32_crc32di(c, load64(p));
            c1 = __builtin_ia32_crc32di(c1, load64(p + block));
            c2 = __builtin_ia32_crc32di(c2, load64(p + 2 * block));
            p += 8;
        } while (p < end);
        c = shift(table, (uint32_t)c) ^ (uint32_t)c1;
        c = shift(table, (uint32_t)c) ^ (uint32_t)c2;
        p += 2 * block;
        n -= 3 * block;
    }
    *data = p;
    *length = n;
    return c;
}

__attribute__((target("sse4.2")))
uint32_t ccrc32c_hardware(uint32_t crc, const void *data, size_t length) {
    const unsigned char *p = (const unsigned char *)data;
    uint64_t c = (uint32_t)~crc;
    if (length >= 3 * SHORT_BYTES) {
        c = three_streams(c, &p, &length, LONG_BYTES, shift_long);
        c = three_streams(c, &p, &length, SHORT_BYTES, shift_short);
    }
    while (length >= 8) {
        c = __builtin_ia32_crc32di(c, load64(p));
        p += 8;
        length -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (length > 0) {
        c32 = __builtin_ia32_crc32qi(c32, *p);
        p += 1;
        length -= 1;
    }
    return ~c32;
}

#else

int ccrc32c_hardware_available(void) { return 0; }

uint32_t ccrc32c_hardware(uint32_t crc, const void *data, size_t length) {
    (void)data;
    (void)length;
    return crc;
}

#endif
