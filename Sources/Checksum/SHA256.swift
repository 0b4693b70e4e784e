import CCrypto

/// SHA-256 through OpenSSL's libcrypto (already on every box that has libcurl), so we do not
/// carry a hand-written digest.
public enum SHA256 {
    public static func hex(_ bytes: [UInt8]) -> String {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let ok = bytes.withUnsafeBufferPointer { buf in
            EVP_Digest(buf.baseAddress, buf.count, &digest, &length, EVP_sha256(), nil)
        }
        precondition(ok == 1, "EVP_Digest(sha256) failed")
        return digest.prefix(Int(length)).map { byte in
            let s = String(byte, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined()
    }

    public static func hex(_ text: String) -> String { hex(Array(text.utf8)) }
}
