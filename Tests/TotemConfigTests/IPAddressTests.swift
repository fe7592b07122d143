import Testing
@testable import TotemConfig

@Suite struct IPAddressTests {
    @Test func ipv4() {
        #expect(IPAddress("10.16.35.101") == .v4(0x0A10_2365))
        #expect(IPAddress("239.255.1.1")?.isMulticast == true)
        #expect(IPAddress("192.168.1.1")?.isMulticast == false)
        for bad in ["10.0.0", "10.0.0.256", "10.0.0.-1", "1.2.3.4.5", "01234.1.1.1", "a.b.c.d", ""] {
            #expect(IPAddress(bad) == nil, "\(bad)")
        }
    }

    @Test func ipv6() {
        #expect(IPAddress("::1") == IPAddress("0:0:0:0:0:0:0:1"))
        #expect(IPAddress("::")?.description == "0:0:0:0:0:0:0:0")
        #expect(IPAddress("fe80::1:2")?.description == "fe80:0:0:0:0:0:1:2")
        #expect(IPAddress("::ffff:10.0.0.1")?.description == "0:0:0:0:0:ffff:a00:1")
        #expect(IPAddress("ff15::1")?.isMulticast == true)
        for bad in ["1:::2", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "1:2:3", "g::1", ":"] {
            #expect(IPAddress(bad) == nil, "\(bad)")
        }
    }

    @Test func hostNames() {
        #expect(IPAddress.isHostName("db1.example.com"))
        #expect(!IPAddress.isHostName("-bad.example"))
        #expect(!IPAddress.isHostName("two words"))
        #expect(!IPAddress.isHostName("a..b"))
    }
}
