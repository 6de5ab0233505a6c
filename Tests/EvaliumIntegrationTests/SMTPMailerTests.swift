import EvaliumApp
import EvaliumCore
import Foundation
import NIOCore
import NIOPosix
import Testing

@Suite(
    "SMTP delivery through a real server", .timeLimit(.minutes(2)),
    .enabled(if: SMTPSink.isRunning, "needs the SMTP sink that scripts/test starts"))
struct SMTPMailerTests {
    @Test("a message arrives with its envelope, subject and body, and lines starting with a dot survive")
    func plainDelivery() async throws {
        let subject = "Your sign-in link \(ULID().text)"
        let body = "Hello,\n.leading dot\n.\n..two dots\nlast line"
        try await send(MailMessage(to: "ada@example.org", subject: subject, body: body), url: SMTPSink.plainURL)

        let received = try #require(try SMTPSink.message(withSubject: subject))
        #expect(received.listener == "plain")
        #expect(received.user == "tester")
        #expect(received.mail_from == "no-reply@evalium.test")
        #expect(received.recipients == ["ada@example.org"])
        #expect(received.mail_options.contains("BODY=8BITMIME"))
        #expect(received.data.contains("\r\nTo: ada@example.org\r\n"))
        #expect(received.data.contains("From: Evalium <no-reply@evalium.test>\r\n"))
        #expect(received.data.hasSuffix("\r\n\r\nHello,\r\n.leading dot\r\n.\r\n..two dots\r\nlast line\r\n"))
    }

    @Test("STARTTLS encrypts the connection before credentials and mail are sent")
    func startTLSDelivery() async throws {
        let subject = "STARTTLS \(ULID().text)"
        try await send(MailMessage(to: "ada@example.org", subject: subject, body: "over TLS"), url: SMTPSink.startTLSURL) {
            $0.additionalTrustedCertificatesFile = SMTPSink.certificateFile
        }
        let received = try #require(try SMTPSink.message(withSubject: subject))
        #expect(received.listener == "starttls")
        #expect(received.tls)
        #expect(received.user == "tester")
    }

    @Test("smtps:// speaks TLS from the first byte, and AUTH LOGIN is used when PLAIN is not offered")
    func implicitTLSDelivery() async throws {
        let subject = "SMTPS \(ULID().text)"
        try await send(MailMessage(to: "ada@example.org", subject: subject, body: "over TLS"), url: SMTPSink.implicitTLSURL) {
            $0.additionalTrustedCertificatesFile = SMTPSink.certificateFile
        }
        let received = try #require(try SMTPSink.message(withSubject: subject))
        #expect(received.listener == "smtps")
        #expect(received.tls)
        #expect(received.user == "tester")
    }

    @Test("a server certificate the client does not trust stops delivery after STARTTLS")
    func untrustedCertificate() async throws {
        let subject = "untrusted \(ULID().text)"
        do {
            try await send(MailMessage(to: "ada@example.org", subject: subject, body: "x"), url: SMTPSink.startTLSURL)
            Issue.record("a self-signed certificate was accepted")
        } catch SMTPMailerError.connectionLost(let step, let reason) {
            #expect(step == "TLS handshake")
            #expect(reason.contains("CERTIFICATE_VERIFY_FAILED"))
        }
        #expect(try SMTPSink.message(withSubject: subject) == nil)
    }

    @Test("a wrong password is reported as an authentication failure with the server's reply")
    func wrongPassword() async throws {
        let subject = "wrong password \(ULID().text)"
        let error = await #expect(throws: SMTPMailerError.self) {
            try await send(MailMessage(to: "ada@example.org", subject: subject, body: "x"), url: SMTPSink.plainURL) {
                $0.credentials?.password = "not-the-password"
            }
        }
        let description = "\(try #require(error))"
        #expect(description.contains("authentication as tester failed"))
        #expect(description.contains("535"))
        #expect(!description.contains("not-the-password"))
        #expect(try SMTPSink.message(withSubject: subject) == nil)
    }

    @Test("credentials are not sent to a server without STARTTLS unless the URL says tls=none")
    func plainRefusedWithoutExplicitOptOut() async throws {
        let subject = "no TLS \(ULID().text)"
        let url = SMTPSink.plainURL.replacingOccurrences(of: "?tls=none", with: "")
        #expect(url != SMTPSink.plainURL)
        let error = await #expect(throws: SMTPMailerError.self) {
            try await send(MailMessage(to: "ada@example.org", subject: subject, body: "x"), url: url)
        }
        guard case .startTLSNotOffered = try #require(error) else {
            Issue.record("expected startTLSNotOffered, got \(String(describing: error))")
            return
        }
        #expect(try SMTPSink.message(withSubject: subject) == nil)
    }

    @Test("line breaks in the subject or recipient are refused before connecting")
    func headerInjection() async throws {
        // Nothing listens on port 1, so an attempt to connect would fail differently.
        let nowhere = "smtp://127.0.0.1:1?tls=none"
        await #expect(throws: SMTPMailerError.unsafeHeader(field: "Subject", reason: "contains a line break")) {
            try await send(MailMessage(to: "ada@example.org", subject: "Hi\r\nBcc: eve@example.org", body: "x"), url: nowhere)
        }
        await #expect(throws: SMTPMailerError.unsafeHeader(field: "To", reason: "contains a line break")) {
            try await send(MailMessage(to: "ada@example.org\nBcc: eve@example.org", subject: "Hi", body: "x"), url: nowhere)
        }
        await #expect(throws: SMTPMailerError.unsafeHeader(field: "To", reason: "is not one plain address")) {
            try await send(MailMessage(to: "ada@example.org> NOTIFY=NEVER <x", subject: "Hi", body: "x"), url: nowhere)
        }
    }

    @Test("a server that never answers times out at the step it is stuck on")
    func silentServer() async throws {
        let silent = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(silent.localAddress?.port)
        await #expect(throws: SMTPMailerError.timedOut(step: "greeting")) {
            try await send(MailMessage(to: "ada@example.org", subject: "Hi", body: "x"), url: "smtp://127.0.0.1:\(port)?tls=none") {
                $0.stepTimeout = .milliseconds(300)
            }
        }
        try await silent.close()
    }

    @Test("replies injected in clear after the 220 to STARTTLS are refused before TLS starts")
    func startTLSInjection() async throws {
        let server = try await ScriptedSMTPServer.start(answers: [
            "EHLO": "250-fake\r\n250 STARTTLS\r\n",
            "STARTTLS": "220 go ahead\r\n250-injected\r\n250 AUTH PLAIN\r\n",
        ])
        await #expect(throws: SMTPMailerError.protocolViolation("the server sent more after its reply to STARTTLS")) {
            try await send(MailMessage(to: "ada@example.org", subject: "Hi", body: "x"), url: "smtp://u:p@127.0.0.1:\(server.port)")
        }
        try await server.channel.close()
    }

    private func send(
        _ message: MailMessage, url: String, adjust: (inout SMTPConfiguration) -> Void = { _ in }
    ) async throws {
        var configuration = try SMTPConfiguration(url: url, from: "Evalium <no-reply@evalium.test>")
        adjust(&configuration)
        try await SMTPMailer(configuration: configuration, logger: TestEnvironment.logger).send(message)
    }
}

@Suite("SMTP configuration URLs")
struct SMTPConfigurationTests {
    private let from = "no-reply@evalium.test"

    @Test("smtp:// means port 587 with STARTTLS required")
    func submissionDefaults() throws {
        let configuration = try SMTPConfiguration(url: "smtp://mail.example.org", from: from)
        #expect(configuration.host == "mail.example.org")
        #expect(configuration.port == 587)
        #expect(configuration.security == .startTLS)
        #expect(configuration.credentials == nil)
        #expect(configuration.stepTimeout == .seconds(30))
        #expect(try SMTPConfiguration(url: "smtp://mail.example.org?tls=starttls", from: from).security == .startTLS)
    }

    @Test("smtps:// means port 465 with TLS from the first byte")
    func implicitTLSDefaults() throws {
        let configuration = try SMTPConfiguration(url: "smtps://u:p@mail.example.org", from: from)
        #expect(configuration.port == 465)
        #expect(configuration.security == .implicitTLS)
        #expect(configuration.credentials == .init(username: "u", password: "p"))
    }

    @Test("tls=none, a port, an IPv6 host and percent-encoded credentials")
    func everyPart() throws {
        let configuration = try SMTPConfiguration(url: "smtp://relay%40corp:p%40ss%3Aword@[::1]:2525?tls=none", from: from)
        #expect(configuration.host == "::1")
        #expect(configuration.port == 2525)
        #expect(configuration.security == .none)
        #expect(configuration.credentials == .init(username: "relay@corp", password: "p@ss:word"))
    }

    @Test(
        "malformed or contradictory URLs are refused",
        arguments: [
            "http://mail.example.org", "smtp://", "smtp:mail.example.org", "smtp://mail.example.org?tls=ssl",
            "smtps://mail.example.org?tls=none", "smtp://mail.example.org?tls=none&tls=starttls", "smtp://mail.example.org?debug=1",
            "smtp://user@mail.example.org", "smtp://mail.example.org:0", "smtp://mail.example.org/inbox",
        ])
    func refused(url: String) throws {
        let error = #expect(throws: SMTPMailerError.self) { try SMTPConfiguration(url: url, from: from) }
        guard case .invalidConfiguration = try #require(error) else {
            Issue.record("expected invalidConfiguration, got \(String(describing: error))")
            return
        }
    }

    @Test("a From with a line break or without an address is refused")
    func unsafeFrom() {
        #expect(throws: SMTPMailerError.unsafeHeader(field: "From", reason: "contains a line break")) {
            try SMTPConfiguration(url: "smtp://mail.example.org", from: "a@example.org\r\nBcc: eve@example.org")
        }
        #expect(throws: SMTPMailerError.unsafeHeader(field: "From", reason: "is not an address like name@example.org")) {
            try SMTPConfiguration(url: "smtp://mail.example.org", from: "Evalium")
        }
    }

    @Test("a configuration's description never shows the password")
    func passwordRedacted() throws {
        let configuration = try SMTPConfiguration(url: "smtps://u:hunter2@mail.example.org", from: from)
        #expect(!"\(configuration)".contains("hunter2"))
    }
}

/// The loopback SMTP server that scripts/test starts (scripts/lib/smtp_sink.py): one user, a plain,
/// a STARTTLS and an implicit-TLS listener, and every message kept as a JSON file.
enum SMTPSink {
    struct Received: Decodable, Equatable {
        var listener: String
        var tls: Bool
        var user: String?
        var mail_from: String
        var mail_options: [String]
        var recipients: [String]
        var data: String
    }

    /// Whether scripts/test started the sink; a plain `swift test` skips the delivery tests instead of crashing.
    static var isRunning: Bool { ProcessInfo.processInfo.environment["EVALIUM_TEST_SMTP_MAILDIR"] != nil }

    static func variable(_ name: String) -> String {
        guard let value = ProcessInfo.processInfo.environment[name] else {
            fatalError("\(name) is not set: run the tests with scripts/test, which starts the SMTP sink")
        }
        return value
    }

    static var plainURL: String { variable("EVALIUM_TEST_SMTP_URL") }
    static var startTLSURL: String { variable("EVALIUM_TEST_SMTP_STARTTLS_URL") }
    static var implicitTLSURL: String { variable("EVALIUM_TEST_SMTPS_URL") }
    static var certificateFile: String { variable("EVALIUM_TEST_SMTP_CA_FILE") }

    /// The message whose Subject header is `subject`; the sink has written it before it accepts it.
    static func message(withSubject subject: String) throws -> Received? {
        let folder = URL(fileURLWithPath: variable("EVALIUM_TEST_SMTP_MAILDIR"))
        let files = try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
        return try files.filter { $0.pathExtension == "json" }
            .map { try JSONDecoder().decode(Received.self, from: Data(contentsOf: $0)) }
            .first { $0.data.contains("\r\nSubject: \(subject)\r\n") }
    }
}

/// A fake SMTP server that greets, then answers each line that starts with a key of `answers` with
/// its raw reply, for server misbehaviour the real sink cannot show.
final class ScriptedSMTPServer: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let answers: [String: String]
    private var received = ""

    init(answers: [String: String]) { self.answers = answers }

    static func start(answers: [String: String]) async throws -> (channel: any Channel, port: Int) {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture { try child.pipeline.syncOperations.addHandler(ScriptedSMTPServer(answers: answers)) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return (channel, try #require(channel.localAddress?.port))
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "220 scripted\r\n")), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received += String(buffer: unwrapInboundIn(data))
        while let end = received.range(of: "\r\n") {
            let line = received[..<end.lowerBound]
            received = String(received[end.upperBound...])
            let reply = answers.first { line.hasPrefix($0.key) }?.value ?? "500 unexpected\r\n"
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: reply)), promise: nil)
        }
    }
}
