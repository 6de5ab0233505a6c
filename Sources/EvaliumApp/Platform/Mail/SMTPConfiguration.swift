import Foundation

/// Where and how ``SMTPMailer`` delivers, parsed from one URL so a deployment sets the relay, its
/// security and its credentials in a single setting:
///
/// - `smtp://[user:password@]host[:port]`: port 587 by default, and STARTTLS is **required**: a
///   server that does not offer it is refused before any credentials or mail are sent.
/// - `smtps://[user:password@]host[:port]`: port 465 by default, TLS from the first byte.
/// - `smtp://…?tls=none`: **no encryption at all.** Mail and the password cross the network in clear
///   text, readable and changeable by anyone on the path. Only safe for a relay on the same machine
///   (127.0.0.1, ::1, localhost); ``SMTPMailer`` logs a warning when it is used for any other host.
///
/// User and password are percent-decoded, so a password with `@` or `:` is written `%40` or `%3A`.
/// The server certificate is checked against the system's CA store and the host name.
public struct SMTPConfiguration: Sendable {
    public enum Security: Sendable, Equatable {
        /// Plain TCP upgraded by STARTTLS before authentication; a server without STARTTLS is refused.
        case startTLS
        /// TLS from the first byte (`smtps://`).
        case implicitTLS
        /// No encryption (`?tls=none`): only for a relay on loopback.
        case none
    }

    public struct Credentials: Sendable, Equatable, CustomStringConvertible {
        public var username: String
        public var password: String

        public init(username: String, password: String) {
            self.username = username
            self.password = password
        }

        /// Without the password, so a logged configuration or error never shows it.
        public var description: String { "\(username):<redacted>" }
    }

    /// A host name or IP address (IPv6 without brackets).
    public var host: String
    public var port: Int
    public var security: Security
    public var credentials: Credentials?
    /// The From header, such as `Evalium <no-reply@example.org>`; the address in it is the envelope sender.
    public var from: String
    /// The longest the mailer waits for any one step: connecting, the greeting, each command's reply.
    public var stepTimeout: Duration
    /// A PEM file of CA certificates to trust besides the system's, for a relay with a private CA.
    public var additionalTrustedCertificatesFile: String?

    /// Parses `url` (see the type's documentation); `from` must hold one address and no line breaks.
    public init(url: String, from: String, stepTimeout: Duration = .seconds(30)) throws(SMTPMailerError) {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased() else {
            throw .invalidConfiguration("\"\(url)\" is not a URL; expected smtp://[user:password@]host[:port][?tls=starttls|none] or smtps://…")
        }
        guard let host = components.host?.trimmingCharacters(in: CharacterSet(charactersIn: "[]")), !host.isEmpty else {
            throw .invalidConfiguration("the SMTP URL has no host")
        }
        guard components.path.isEmpty || components.path == "/", components.fragment == nil else {
            throw .invalidConfiguration("the SMTP URL has a path or fragment; only ?tls=starttls|none may follow the host")
        }

        var tlsOption: String?
        for item in components.queryItems ?? [] {
            guard item.name == "tls", tlsOption == nil, let value = item.value?.lowercased() else {
                throw .invalidConfiguration("the SMTP URL's query may hold only one tls=starttls|none, not \"\(item.name)\"")
            }
            tlsOption = value
        }
        switch (scheme, tlsOption) {
        case ("smtp", nil), ("smtp", "starttls"): (security, port) = (.startTLS, components.port ?? 587)
        case ("smtp", "none"): (security, port) = (.none, components.port ?? 587)
        case ("smtps", nil): (security, port) = (.implicitTLS, components.port ?? 465)
        case ("smtp", let other?):
            throw .invalidConfiguration("tls=\(other) is not an option; use tls=starttls (the default) or tls=none")
        case ("smtps", _?):
            throw .invalidConfiguration("smtps:// is always TLS and takes no tls= option")
        default:
            throw .invalidConfiguration("the scheme \"\(scheme)\" is not smtp or smtps")
        }
        guard (1...65535).contains(port) else {
            throw .invalidConfiguration("the SMTP port \(port) is outside 1…65535")
        }

        switch (components.user, components.password) {
        case (nil, nil): credentials = nil
        case (let username?, let password?) where !username.isEmpty && !password.isEmpty:
            credentials = Credentials(username: username, password: password)
        default:
            throw .invalidConfiguration("the SMTP URL needs both a user and a password, or neither")
        }

        _ = try MailHeaders.envelopeAddress(in: from, field: "From")
        self.host = host
        self.from = from
        self.stepTimeout = stepTimeout
    }

    /// Whether the relay is on this machine, the only place where ``Security/none`` is safe.
    var isLoopback: Bool {
        if host.lowercased() == "localhost" || host == "::1" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets.first == "127" && octets.allSatisfy { UInt8($0) != nil }
    }
}
