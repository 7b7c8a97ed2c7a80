import Sizing
import TandemAPI

/// The latency objective a request must meet to count as good.
public struct ServiceLevelObjective: Sendable, Hashable {
    /// Most time from arrival to the first token.
    public var timeToFirstToken: Duration
    /// Most mean time per output token after the first.
    public var timePerOutputToken: Duration

    /// An objective; the defaults are the benchmark's.
    public init(
        timeToFirstToken: Duration = .seconds(2),  // the autoscaling benchmark issue's SLO: TTFT ≤ 2 s
        timePerOutputToken: Duration = .milliseconds(100)  // the autoscaling benchmark issue's SLO: mean TPOT ≤ 100 ms
    ) {
        self.timeToFirstToken = timeToFirstToken
        self.timePerOutputToken = timePerOutputToken
    }
}

/// How long a new replica takes from being placed on GPUs to serving: scheduling, container
/// start and engine initialisation (`base`), plus loading the weights each device holds
/// (`perGiB` for every GiB per device; tensor-parallel workers load their shards in parallel).
public struct StartupDelayModel: Sendable, Hashable {
    /// Scheduling, container start (image cached), vLLM engine init: memory profiling, KV-cache
    /// allocation, CUDA-graph capture and torch.compile.
    public var base: Duration
    /// Time per GiB of weights one device loads from local disk.
    public var perGiB: Duration

    /// A model; the defaults are estimates from public reports (see each parameter).
    public init(
        base: Duration = .seconds(60),  // vLLM start-up breakdown (Tensorfuse, "Reducing GPU cold start", 2025): engine init, compile and graph capture take tens of seconds
        perGiB: Duration = .milliseconds(1_500)  // vllm-project/vllm#2233: a 67B model (~125 GiB bf16) loads in about 3 min from local disk ≈ 1.4 s/GiB
    ) {
        self.base = base
        self.perGiB = perGiB
    }

    /// The delay of a replica whose devices each hold `weightsBytesPerDevice` bytes of weights.
    public func delay(weightsBytesPerDevice: Int) -> Duration {
        base + perGiB * (Double(weightsBytesPerDevice) / Double(1 << 30))
    }
}

/// One tier as the simulator runs it: the sizing the operator would derive, the engine's
/// limits, the step-time model and the GPUs and start-up time of one replica.
public struct PoolTierModel: Sendable {
    /// The operator's sizing of the tier.
    public var sizing: TierSizing
    /// The engine limits each replica runs with.
    public var configuration: EngineConfiguration
    /// The replica's step times.
    public var stepTime: StepTimeModel
    /// Devices per replica (tensor × pipeline parallel).
    public var gpusPerReplica: Int
    /// KV-cache bytes per token of the whole model at the tier's KV dtype (what a transfer moves).
    public var kvBytesPerToken: Int

    /// A tier from a sizing of `model` on `accelerator` (see ``EngineConfiguration/init(sizing:role:blockSize:recordsTokenEvents:)``).
    /// - Returns: `nil` when the sizing checked no memory (no KV-cache size).
    public init?(sizing: TierSizing, model: ModelProfile, accelerator: Accelerator) {
        guard let configuration = EngineConfiguration(sizing: sizing) else { return nil }
        self.sizing = sizing
        self.configuration = configuration
        stepTime = StepTimeModel(sizing: sizing, model: model, accelerator: accelerator)
        gpusPerReplica = max(1, sizing.devices.value)
        kvBytesPerToken = sizing.kvCacheBytesPerToken
    }
}

/// Why a pool cannot be simulated.
public struct PoolSimulationError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension PoolSimulation {
    /// The knobs of a run that are not the pool, the load or the policy.
    public struct Options: Sendable, Hashable {
        /// How often metrics are read and the policy decides.
        public var interval: Duration
        /// How long a placed replica takes to become ready.
        public var startup: StartupDelayModel
        /// Devices the pool may use in all; replicas beyond stay pending (`nil`: unlimited).
        public var gpuCapacity: Int?
        /// Replicas per tier at time 0, already warm (absent: the tier's `replicas`, else its
        /// `minReplicas`, else 1; decode at least 1).
        public var initialReplicas: [TierName: Int]
        /// The latency objective.
        public var slo: ServiceLevelObjective
        /// The tiers the policy sizes; the others keep their initial replicas.
        public var policyTiers: Set<TierName>
        /// How long after the last arrival requests may still finish; later ones count as unfinished.
        public var drainLimit: Duration
        /// Recorded in the report. The simulator draws no random numbers (routing ties go by
        /// replica index); plans built for a run (``RequestPlan``) take the same seed.
        public var seed: UInt64

        /// Options; the defaults are the operator's.
        public init(
            interval: Duration = .seconds(5),  // the operator's --autoscaler-interval default (docs/autoscaling.md)
            startup: StartupDelayModel = StartupDelayModel(), gpuCapacity: Int? = nil,
            initialReplicas: [TierName: Int] = [:], slo: ServiceLevelObjective = ServiceLevelObjective(),
            policyTiers: Set<TierName> = [.prefill, .decode], drainLimit: Duration = .seconds(600), seed: UInt64 = 1
        ) {
            self.interval = interval
            self.startup = startup
            self.gpuCapacity = gpuCapacity
            self.initialReplicas = initialReplicas
            self.slo = slo
            self.policyTiers = policyTiers
            self.drainLimit = drainLimit
            self.seed = seed
        }
    }

    /// Sizes both tiers of `spec` as the operator would (``Sizing/TierSizer`` with the tier's
    /// `vllmArgs` and explicit devices) for the built-in model catalog and `spec.accelerator`.
    ///
    /// Unlike the operator's planner it does not review flags against the image's flag table.
    public static func tiers(for spec: InferencePoolSpec) throws -> [TierName: PoolTierModel] {
        guard let name = spec.accelerator else { throw PoolSimulationError("the pool names no accelerator (spec.accelerator)") }
        guard let accelerator = AcceleratorCatalog.builtIn.accelerator(named: name) else {
            throw PoolSimulationError("unknown accelerator \(name)")
        }
        guard let model = ModelCatalog.builtIn.profile(for: spec.model) else {
            throw PoolSimulationError("model \(spec.model) is not in the built-in catalog")
        }
        var tiers: [TierName: PoolTierModel] = [:]
        for tier in TierName.allCases {
            let config = spec.config(tier)
            let args: EngineArgs
            do {
                args = try EngineArgs(config.vllmArgs ?? [])
            } catch {
                throw PoolSimulationError("\(tier.rawValue)Config.vllmArgs: \(error)")
            }
            let sizing: TierSizing
            do {
                sizing = try TierSizer().size(TierSizingRequest(
                    tier: tier == .prefill ? .prefill : .decode, model: model, accelerator: accelerator,
                    explicitDevices: config.explicitDevices?.count, args: args))
            } catch {
                throw PoolSimulationError("\(tier.rawValue) tier does not fit: \(error.message)")
            }
            guard let tierModel = PoolTierModel(sizing: sizing, model: model, accelerator: accelerator) else {
                throw PoolSimulationError("\(tier.rawValue) tier: no KV-cache size")
            }
            tiers[tier] = tierModel
        }
        return tiers
    }
}
