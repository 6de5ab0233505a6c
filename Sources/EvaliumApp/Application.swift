import EvaliumCore
import EvaliumStorage
import Hummingbird
import NIOCore
import Logging
import ServiceLifecycle

/// Everything one running Evalium server is made of.
public struct EvaliumServer: Sendable {
    public var configuration: AppConfiguration
    public var database: Database
    /// Where reporting reads go: a read replica's pool, or nil for the primary's.
    public var replica: Database?
    public var migrations: [Migration]
    public var metrics = MetricsRegistry()
    public var logger: Logger
    public var mailer: any Mailer
    let outbox = MailOutbox()
    let tokens: TokenIssuer
    let limiter = RateLimiter()

    public init(
        configuration: AppConfiguration, database: Database, replica: Database? = nil, migrations: [Migration], mailer: any Mailer,
        logger: Logger
    ) {
        self.configuration = configuration
        self.database = database
        self.replica = replica
        self.migrations = migrations
        self.mailer = mailer
        self.logger = logger
        tokens = TokenIssuer(keys: configuration.auth.keys, issuer: configuration.auth.issuer, audience: configuration.auth.audience)
    }

    /// The router with every route and middleware; tests build the same one.
    public func buildRouter() -> Router<AppRequestContext> {
        let router = Router(context: AppRequestContext.self)
        router.add(middleware: RequestObservationMiddleware(metrics: metrics))
        router.add(middleware: ProblemMiddleware())
        router.add(
            middleware: AuthenticationMiddleware(
                platformTokenHash: configuration.platformTokenHash, tokens: tokens, access: AccessResolver(database: database)))
        router.add(middleware: IdempotencyMiddleware(configuration: configuration))
        let auth = configuration.auth
        HealthRoutes(database: database, migrations: migrations, metrics: metrics).register(on: router)
        OpenAPIRoutes().register(on: router)
        TenantRoutes(database: database, configuration: configuration, outbox: outbox).register(on: router)
        LedgerRoutes(ledger: LedgerService(database: database)).register(on: router)
        AuthRoutes(
            signIn: SignInService(database: database, tokens: tokens, settings: auth, outbox: outbox),
            stepUp: StepUpService(database: database, tokens: tokens, settings: auth, limiter: limiter),
            tokens: tokens, limiter: limiter, configuration: configuration
        ).register(on: router)
        PeopleRoutes(
            database: database, people: PeopleService(database: database), roles: RoleService(database: database),
            configuration: configuration
        ).register(on: router)
        AuthoringRoutes(
            database: database, taxonomies: TaxonomyService(database: database), questions: QuestionService(database: database),
            evaluations: EvaluationService(database: database), configuration: configuration
        ).register(on: router)
        SubjectRoutes(database: database, subjects: SubjectService(database: database), imports: SubjectImportService(database: database), configuration: configuration).register(on: router)
        let delivery = DeliveryRoutes(
            database: database, assignments: AssignmentService(database: database), delivery: DeliveryService(database: database),
            submissions: SubmissionService(database: database), tokens: tokens, configuration: configuration)
        delivery.register(on: router)
        delivery.registerReview(on: router, review: ReviewService(database: database), corrections: CorrectionService(database: database))
        PortalRoutes(
            links: PortalLinkService(database: database, tokens: tokens, settings: auth, outbox: outbox),
            submissions: PortalSubmissionService(database: database), database: database,
            configuration: configuration
        ).register(on: router)
        let evidence = configuration.evidence
        let evidenceRoutes = EvidenceRoutes(
            evidence: EvidenceService(
                database: database, store: evidence.store,
                urls: SignedEvidenceURL(keys: auth.keys, publicURL: evidence.publicURL), settings: evidence),
            resumable: ResumableUploads(database: database, store: evidence.store, settings: evidence),
            database: database, configuration: configuration)
        evidenceRoutes.register(on: router)
        evidenceRoutes.registerResumable(on: router)
        ReportingRoutes(reporting: ReportingService(reads: replica ?? database), exports: ReportingExport(reads: replica ?? database))
            .register(on: router)
        EventRoutes(events: EventService(database: database, listeners: eventListeners), database: database, configuration: configuration)
            .register(on: router)
        return router
    }

    /// The in-process listeners: the handlers of consumed events and any the configuration adds.
    var eventListeners: [any EventListener] { Self.builtInListeners + configuration.events.extraListeners }

    /// The built-in listeners, for tools that replay events without a whole server.
    public static var builtInListeners: [any EventListener] { ConsumedEvents.listeners }

    /// The HTTP application with its services: the connection pool, and (unless switched off) the
    /// ledger sealer, the idempotency-key purger, the reporting projection, the event dispatcher, the JetStream
    /// bridge (with a NATS URL) and the evidence tiering worker.
    /// `onServerRunning` hears of the bound channel, so a caller that asked for port 0 learns the real one.
    public func buildApplication(onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }) -> some ApplicationProtocol {
        var services: [any Service] = [database.service, MailDeliveryService(outbox: outbox, mailer: mailer, logger: logger)]
        if let replica { services.append(replica.service) }
        if configuration.runBackgroundWorkers {
            services.append(
                LedgerSealer(
                    database: database, batchSize: configuration.sealerBatchSize, idleInterval: configuration.sealerIdleInterval,
                    metrics: metrics, logger: logger))
            services.append(IdempotencyKeyPurger(database: database, interval: .seconds(600), logger: logger))
            if let interval = configuration.reportingInterval {
                services.append(ReportingWorker(projector: ReportingProjector(database: database), interval: interval, logger: logger))
            }
            let events = configuration.events
            services.append(
                EventDispatchWorker(
                    dispatcher: EventDispatcher(
                        database: database, listeners: eventListeners, retry: events.retry, liveness: events.listenerLiveness, logger: logger),
                    idleInterval: events.idleInterval))
            if let natsURL = events.natsURL {
                services.append(JetStreamBridge(database: database, settings: events, natsURL: natsURL, logger: logger))
            }
            if let coldAfter = configuration.evidence.coldAfter {
                services.append(
                    EvidenceTiering(
                        database: database, store: configuration.evidence.store, coldAfter: coldAfter,
                        interval: configuration.evidence.tieringInterval, logger: logger))
            }
        }
        return Application(
            router: buildRouter(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "evalium"),
            services: services,
            onServerRunning: onServerRunning,
            logger: logger)
    }
}
