import Foundation

/// Where a PostgreSQL server is and who to connect as, parsed from a `postgres://` URL.
public struct DatabaseEndpoint: Sendable, Equatable {
    public enum TLSMode: String, Sendable { case disable, prefer, require }

    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    public var tls: TLSMode

    public init(host: String, port: Int, username: String, password: String?, database: String, tls: TLSMode) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
    }

    /// Parses `postgres://user:password@host:port/database?sslmode=disable|prefer|require`.
    public init?(url text: String) {
        guard let components = URLComponents(string: text),
              ["postgres", "postgresql"].contains(components.scheme ?? ""),
              let host = components.host, !host.isEmpty,
              let username = components.user, !username.isEmpty
        else { return nil }
        let database = String(components.path.drop(while: { $0 == "/" }))
        let sslMode = components.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer"
        self.init(
            host: host, port: components.port ?? 5432, username: username,
            password: components.password.flatMap { $0.removingPercentEncoding ?? $0 },
            database: database.isEmpty ? username : database,
            tls: TLSMode(rawValue: sslMode) ?? (sslMode == "verify-full" ? .require : .prefer))
    }

    /// The URL with its password, for handing to a trusted child process or test.
    public var url: String {
        var components = URLComponents()
        components.scheme = "postgres"
        components.user = username
        components.password = password
        components.host = host
        components.port = port
        components.path = "/\(database)"
        components.queryItems = [URLQueryItem(name: "sslmode", value: tls.rawValue)]
        return components.string!
    }

    /// The URL without its password, for logs and error messages.
    public var redacted: String { "postgres://\(username)@\(host):\(port)/\(database)" }
}
