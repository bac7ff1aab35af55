/* tests/dts/include/dt-bindings/test-clients.h - a binding header for the cpp test. */
#define TEST_CLIENT_ETH 7
#define TEST_RAM_GIB(n) ((n) / 1)
