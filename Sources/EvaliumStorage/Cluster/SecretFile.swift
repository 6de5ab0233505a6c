import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Files that hold secrets (database passwords, the platform operator's token).
public enum SecretFile {
    /// Writes `contents` to a file that is readable by its owner only from the moment it exists:
    /// created with mode 0600 (and narrowed to it if it was already there), never world-readable
    /// for an instant as a write-then-chmod would leave it.
    public static func write(_ contents: String, to url: URL) throws {
        let descriptor = open(url.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw SecretFileError(path: url.path, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        guard fchmod(descriptor, 0o600) == 0 else {
            throw SecretFileError(path: url.path, reason: String(cString: strerror(errno)))
        }
        let bytes = Array(contents.utf8)
        var written = 0
        while written < bytes.count {
            let result = bytes[written...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if result < 0, errno == EINTR { continue }
            guard result > 0 else { throw SecretFileError(path: url.path, reason: String(cString: strerror(errno))) }
            written += result
        }
    }
}

public struct SecretFileError: Error, CustomStringConvertible {
    var path: String
    var reason: String
    public var description: String { "could not write \(path): \(reason)" }
}
