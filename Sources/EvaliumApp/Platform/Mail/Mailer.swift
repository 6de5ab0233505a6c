import EvaliumCore
import Foundation
import Logging

/// One plain-text message to one recipient.
public struct MailMessage: Sendable, Equatable {
    public var to: String
    public var subject: String
    public var body: String

    public init(to: String, subject: String, body: String) {
        self.to = to
        self.subject = subject
        self.body = body
    }

    /// The message as RFC 5322 text with CRLF line ends, ready for a mail folder or an SMTP DATA command.
    public func rfc5322(from: String, messageId: String, date: Date) -> String {
        let lines = [
            "From: \(from)",
            "To: \(to)",
            "Subject: \(subject)",
            "Date: \(Self.mailDate(date))",
            "Message-ID: <\(messageId)>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: 8bit",
            "",
        ] + body.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    static func mailDate(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }
}

/// Delivers messages. Sign-in links go through this and nothing else, so where mail ends up is one
/// configuration choice: a local folder (zero setup) or an SMTP relay.
public protocol Mailer: Sendable {
    func send(_ message: MailMessage) async throws
}

/// Writes each message as an `.eml` file into a folder: the zero-setup mailer. The file name starts
/// with the time, so `ls` shows the newest last.
public struct FolderMailer: Mailer {
    public let folder: URL
    public let from: String
    let logger: Logger

    public init(folder: URL, from: String, logger: Logger) {
        self.folder = folder
        self.from = from
        self.logger = logger
    }

    public func send(_ message: MailMessage) async throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let now = ServerClock.now()
        let id = ULID(date: now).text
        let file = folder.appendingPathComponent("\(id).eml")
        let text = message.rfc5322(from: from, messageId: "\(id)@evalium.local", date: now)
        guard FileManager.default.createFile(atPath: file.path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: file.path])
        }
        logger.info("mail written", metadata: ["file": "\(file.path)", "subject": "\(message.subject)"])
    }
}
