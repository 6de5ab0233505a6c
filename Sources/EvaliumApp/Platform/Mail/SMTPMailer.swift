import EvaliumCore
import Foundation
import Logging
import NIOCore
import NIOSSL

/// Delivers each message to an SMTP relay over its own connection: EHLO, STARTTLS when configured,
/// AUTH when credentials are given, then one MAIL FROM, RCPT TO and DATA, and QUIT.
///
/// Nothing is sent in clear unless the configuration says `tls=none`: with STARTTLS configured, a
/// server that does not offer it (or an attacker who strips the offer) gets no credentials and no mail.
public struct SMTPMailer: Mailer {
    public let configuration: SMTPConfiguration
    let logger: Logger

    public init(configuration: SMTPConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        if configuration.security == .none && !configuration.isLoopback {
            logger.warning(
                "SMTP without TLS to a host that is not this machine: mail and credentials cross the network in clear text",
                metadata: ["host": "\(configuration.host)"])
        }
    }

    public func send(_ message: MailMessage) async throws {
        let sender = try MailHeaders.envelopeAddress(in: configuration.from, field: "From")
        let recipient = try MailHeaders.envelopeAddress(in: message.to, field: "To")
        try MailHeaders.check(message.subject, field: "Subject")
        let now = ServerClock.now()
        let domain = sender.split(separator: "@").last.map(String.init) ?? "evalium.local"
        let text = message.rfc5322(from: configuration.from, messageId: "\(ULID(date: now).text)@\(domain)", date: now)

        let tls = try makeTLSContext()
        let connection = try await SMTPConnection.open(
            host: configuration.host, port: configuration.port,
            implicitTLS: configuration.security == .implicitTLS ? tls : nil, serverHostname: serverHostname,
            stepTimeout: configuration.stepTimeout, logger: logger)
        do {
            let accepted = try await deliver(text, from: sender, to: recipient, over: connection, tls: tls)
            await quit(connection)
            logger.info(
                "mail sent", metadata: ["relay": "\(configuration.host):\(configuration.port)", "subject": "\(message.subject)", "reply": "\(accepted)"])
        } catch {
            await connection.close()
            throw error
        }
    }

    /// The dialogue up to the server's acceptance of the message; returns that acceptance (which
    /// usually names the relay's queue id, worth logging for tracing a message).
    private func deliver(
        _ text: String, from sender: String, to recipient: String, over connection: SMTPConnection, tls: NIOSSLContext
    ) async throws -> SMTPReply {
        try await connection.expectGreeting()
        var extensions = try await hello(connection)
        if configuration.security == .startTLS {
            guard extensions["STARTTLS"] != nil else {
                throw SMTPMailerError.startTLSNotOffered(server: "\(configuration.host):\(configuration.port)")
            }
            try await connection.expect(220, replyTo: "STARTTLS", step: "STARTTLS")
            try await connection.startTLS(tls, serverHostname: serverHostname)
            // What the server offered before TLS could have been altered on the way, so ask again.
            extensions = try await hello(connection)
        }
        if let credentials = configuration.credentials {
            try await authenticate(credentials, mechanisms: extensions["AUTH"], over: connection)
        }
        let body = extensions["8BITMIME"] != nil ? " BODY=8BITMIME" : ""
        try await connection.expect(250, replyTo: "MAIL FROM:<\(sender)>\(body)", step: "MAIL FROM")
        try await connection.expect(250, 251, replyTo: "RCPT TO:<\(recipient)>", step: "RCPT TO")
        try await connection.expect(354, replyTo: "DATA", step: "DATA")
        return try await connection.expect(250, sending: SMTPConnection.dataPayload(text), step: "end of DATA")
    }

    /// EHLO, returning the offered extensions by keyword with their parameters (`AUTH` → `PLAIN LOGIN`).
    private func hello(_ connection: SMTPConnection) async throws -> [String: [String]] {
        let reply = try await connection.expect(250, replyTo: "EHLO \(connection.clientAddressLiteral)", step: "EHLO")
        var extensions: [String: [String]] = [:]
        for line in reply.lines.dropFirst() {
            // Some servers still write the pre-standard `AUTH=LOGIN PLAIN`.
            let words = line.uppercased().split(whereSeparator: { $0 == " " || $0 == "=" }).map(String.init)
            if let keyword = words.first { extensions[keyword] = Array(words.dropFirst()) }
        }
        return extensions
    }

    /// AUTH PLAIN, or AUTH LOGIN when only that is offered. Any reply but the expected one during
    /// authentication is reported as an authentication failure with the server's words.
    private func authenticate(
        _ credentials: SMTPConfiguration.Credentials, mechanisms: [String]?, over connection: SMTPConnection
    ) async throws {
        func step(_ line: String, expecting code: Int, name: String) async throws {
            let reply = try await connection.reply(to: line, step: name)
            guard reply.code == code else {
                throw SMTPMailerError.authenticationFailed(username: credentials.username, reply: reply.description)
            }
        }
        func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

        guard let mechanisms else { throw SMTPMailerError.authenticationNotOffered }
        if mechanisms.contains("PLAIN") {
            try await step("AUTH PLAIN " + base64("\0\(credentials.username)\0\(credentials.password)"), expecting: 235, name: "AUTH PLAIN")
        } else if mechanisms.contains("LOGIN") {
            try await step("AUTH LOGIN", expecting: 334, name: "AUTH LOGIN")
            try await step(base64(credentials.username), expecting: 334, name: "AUTH LOGIN user name")
            try await step(base64(credentials.password), expecting: 235, name: "AUTH LOGIN password")
        } else {
            throw SMTPMailerError.noSupportedAuthenticationMechanism(offered: mechanisms.joined(separator: " "))
        }
    }

    /// QUIT after the message was accepted. A server that fails to answer changes nothing about the
    /// delivery, so its failure is not the caller's error.
    private func quit(_ connection: SMTPConnection) async {
        do {
            try await connection.expect(221, replyTo: "QUIT", step: "QUIT")
        } catch {
            logger.debug("SMTP QUIT failed after the message was accepted", metadata: ["error": "\(error)"])
        }
        await connection.close()
    }

    private func makeTLSContext() throws -> NIOSSLContext {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let file = configuration.additionalTrustedCertificatesFile {
            tls.additionalTrustRoots = [.file(file)]
        }
        do {
            return try NIOSSLContext(configuration: tls)
        } catch {
            throw SMTPMailerError.invalidConfiguration("cannot set up TLS: \(error)")
        }
    }

    /// The name the certificate must carry and that goes into SNI; nil for an IP address, which SNI
    /// cannot carry and which is then checked against the certificate's IP addresses instead.
    private var serverHostname: String? {
        (try? SocketAddress(ipAddress: configuration.host, port: 0)) == nil ? configuration.host : nil
    }
}

/// Why a message could not be sent. Descriptions name the step and quote the server, and never
/// contain a password.
public enum SMTPMailerError: Error, Equatable, CustomStringConvertible {
    /// The URL, From address or TLS settings cannot work; nothing was sent.
    case invalidConfiguration(String)
    /// A header value that would break out of its header line or the SMTP command: refused before connecting.
    case unsafeHeader(field: String, reason: String)
    /// No TCP (or, for smtps://, no TLS) connection could be made.
    case connectionFailed(server: String, reason: String)
    /// The connection broke while waiting for `step`'s reply, including a failed TLS handshake.
    case connectionLost(step: String, reason: String)
    case timedOut(step: String)
    /// STARTTLS is required but the server did not offer it; no credentials and no mail were sent.
    case startTLSNotOffered(server: String)
    case authenticationNotOffered
    case noSupportedAuthenticationMechanism(offered: String)
    case authenticationFailed(username: String, reply: String)
    /// The server answered `step` with a code that does not let delivery go on.
    case unexpectedReply(step: String, reply: String)
    /// The server sent something that is not SMTP, or sent replies nobody asked for at a point where that is unsafe.
    case protocolViolation(String)

    public var description: String {
        switch self {
        case .invalidConfiguration(let reason): "SMTP configuration: \(reason)"
        case .unsafeHeader(let field, let reason): "refused to send: the \(field) value \(reason)"
        case .connectionFailed(let server, let reason): "cannot connect to the SMTP server \(server): \(reason)"
        case .connectionLost(let step, let reason): "the SMTP connection failed during \(step): \(reason)"
        case .timedOut(let step): "the SMTP server did not answer \(step) in time"
        case .startTLSNotOffered(let server):
            "the SMTP server \(server) does not offer STARTTLS, and this configuration requires TLS, so neither "
                + "credentials nor mail were sent (use smtps://, or tls=none only for a relay on this machine)"
        case .authenticationNotOffered: "credentials are configured but the SMTP server offers no AUTH"
        case .noSupportedAuthenticationMechanism(let offered):
            "the SMTP server offers authentication only by \(offered); this client supports PLAIN and LOGIN"
        case .authenticationFailed(let username, let reply): "SMTP authentication as \(username) failed: the server answered \(reply)"
        case .unexpectedReply(let step, let reply): "the SMTP server answered \(step) with \(reply)"
        case .protocolViolation(let reason): "the SMTP server broke the protocol: \(reason)"
        }
    }
}

/// Checks for the values that go into both header lines and SMTP commands.
enum MailHeaders {
    /// The bare address in `value`, which is either `someone@example.org` or `Name <someone@example.org>`.
    static func envelopeAddress(in value: String, field: String) throws(SMTPMailerError) -> String {
        try check(value, field: field)
        var address = Substring(value)
        if let open = value.lastIndex(of: "<"), value.hasSuffix(">") {
            address = value[value.index(after: open)..<value.index(before: value.endIndex)]
        }
        // Angle brackets and spaces would end the address inside `MAIL FROM:<…>` and smuggle in parameters.
        guard !address.contains(where: { $0 == "<" || $0 == ">" || $0.isWhitespace }) else {
            throw .unsafeHeader(field: field, reason: "is not one plain address")
        }
        let parts = address.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count >= 2, parts.allSatisfy({ !$0.isEmpty }) else {
            throw .unsafeHeader(field: field, reason: "is not an address like name@example.org")
        }
        return String(address)
    }

    /// Refuses line breaks (a second header or the end of the headers could follow them) and other
    /// control characters.
    static func check(_ value: String, field: String) throws(SMTPMailerError) {
        if value.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" }) {
            throw .unsafeHeader(field: field, reason: "contains a line break")
        }
        if value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw .unsafeHeader(field: field, reason: "contains a control character")
        }
    }
}
