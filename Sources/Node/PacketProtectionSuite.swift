/// Which protection the cluster's packets get: corosync's `crypto_cipher` and `crypto_hash`
/// (and the older `secauth`), resolved to one suite. docs/secauth.md describes the format.
///
/// - `none`/`none`: packets travel as the wire codec writes them.
/// - a cipher (`aes128`, `aes192`, `aes256`): AES-GCM with a key of that size. GCM
///   authenticates as well as encrypts, so the hash is redundant; it is still accepted (and
///   recorded in every packet header, so two nodes configured differently reject each
///   other's packets instead of failing in a confusing way).
/// - a hash without a cipher: an HMAC over the whole packet, nothing encrypted.
public struct PacketProtectionSuite: Hashable, Sendable, CustomStringConvertible {
    /// `crypto_cipher`. The raw values are the wire ids of docs/secauth.md: never renumber.
    public enum Cipher: UInt8, Hashable, Sendable, CaseIterable {
        case none = 0
        case aes128 = 1
        case aes192 = 2
        case aes256 = 3

        public var name: String {
            switch self {
            case .none: "none"
            case .aes128: "aes128"
            case .aes192: "aes192"
            case .aes256: "aes256"
            }
        }

        /// The AES-GCM key size; 0 for `none`.
        public var keyByteCount: Int {
            switch self {
            case .none: 0
            case .aes128: 16
            case .aes192: 24
            case .aes256: 32
            }
        }
    }

    /// `crypto_hash`. The raw values are the wire ids of docs/secauth.md: never renumber.
    public enum Hash: UInt8, Hashable, Sendable, CaseIterable {
        case none = 0
        case md5 = 1
        case sha1 = 2
        case sha256 = 3
        case sha384 = 4
        case sha512 = 5

        public var name: String {
            switch self {
            case .none: "none"
            case .md5: "md5"
            case .sha1: "sha1"
            case .sha256: "sha256"
            case .sha384: "sha384"
            case .sha512: "sha512"
            }
        }

        /// The HMAC tag size, which is the digest size; 0 for `none`.
        public var tagByteCount: Int {
            switch self {
            case .none: 0
            case .md5: 16
            case .sha1: 20
            case .sha256: 32
            case .sha384: 48
            case .sha512: 64
            }
        }
    }

    public var cipher: Cipher
    public var hash: Hash

    public static let none = PacketProtectionSuite(cipher: .none, hash: .none)

    public init(cipher: Cipher, hash: Hash) {
        self.cipher = cipher
        self.hash = hash
    }

    /// Resolves the configuration's strings, as corosync 2.x's `totem_get_crypto` does:
    /// `secauth: on` means aes256 with sha1 unless a cipher or hash is given.
    ///
    /// `TotemOptions` reports an unset cipher or hash as `"none"`, so "unset" and an explicit
    /// `none` cannot be told apart here: with `secauth` on and both `none`, secauth wins.
    public init(cipher: String, hash: String, secauth: Bool) throws(PacketProtectionError) {
        guard let parsedCipher = Cipher.allCases.first(where: { $0.name == cipher }) else {
            throw .unknownCipher(cipher)
        }
        guard let parsedHash = Hash.allCases.first(where: { $0.name == hash }) else {
            throw .unknownHash(hash)
        }
        if secauth && parsedCipher == .none && parsedHash == .none {
            self.init(cipher: .aes256, hash: .sha1)
        } else {
            self.init(cipher: parsedCipher, hash: parsedHash)
        }
    }

    /// Whether packets are protected at all (and a key file is needed).
    public var isEnabled: Bool { cipher != .none || hash != .none }

    /// Bytes a protected packet has beyond the codec's: the packing layer keeps
    /// `packet + overheadByteCount <= netmtu`.
    public var overheadByteCount: Int {
        if cipher != .none {
            return PacketProtection.headerByteCount + PacketProtection.sessionSaltByteCount
                + PacketProtection.counterByteCount + PacketProtection.gcmTagByteCount
        }
        if hash != .none {
            return PacketProtection.headerByteCount + hash.tagByteCount
        }
        return 0
    }

    public var description: String { "crypto_cipher \(cipher.name), crypto_hash \(hash.name)" }
}

/// A configuration of packet protection that cannot work.
public enum PacketProtectionError: Error, Hashable, Sendable, CustomStringConvertible {
    case unknownCipher(String)
    case unknownHash(String)
    /// A suite other than none/none was given without a key.
    case keyRequired(PacketProtectionSuite)

    public var description: String {
        switch self {
        case .unknownCipher(let value):
            "unknown crypto_cipher \"\(value)\" (expected none, aes128, aes192 or aes256)"
        case .unknownHash(let value):
            "unknown crypto_hash \"\(value)\" (expected none, md5, sha1, sha256, sha384 or sha512)"
        case .keyRequired(let suite):
            "\(suite) needs a key file (create one with `totemkv keygen`)"
        }
    }
}
