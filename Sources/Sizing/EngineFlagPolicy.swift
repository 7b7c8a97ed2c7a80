/// The vLLM flags a pinned engine image no longer accepts, and what Tandem does about each.
///
/// vLLM exits on an unknown flag, so a removed flag left in `vllmArgs` would crash-loop the pod.
/// A flag whose removal changes nothing the user asked for is dropped (with a warning naming
/// it); one that asked for something the image can no longer do that way refuses the tier.
public struct EngineFlagPolicy: Sendable, Hashable {
    /// A flag the image rejects.
    public struct RemovedFlag: Sendable, Hashable {
        /// What to do when the flag is present.
        public enum Action: Sendable, Hashable {
            /// Remove the flag; the image behaves as the user intended without it.
            case drop(reason: String)
            /// Do not roll the tier out: the flag asked for something dropping it would lose.
            case refuse(reason: String)
        }

        /// Canonical spelling, e.g. `--disable-log-requests`.
        public var flag: String
        /// The vLLM release that stopped accepting it, as best known.
        public var removedIn: String
        /// Drop or refuse, with the reason shown to the user.
        public var action: Action

        /// A removed flag; `flag` may be written with `_` or `-`.
        public init(flag: String, removedIn: String, action: Action) {
            self.flag = EngineArgs.normalise(flag)
            self.removedIn = removedIn
            self.action = action
        }

        /// The reason carried by ``action``.
        public var reason: String {
            switch action {
            case .drop(let reason), .refuse(let reason): reason
            }
        }
    }

    /// The outcome of ``EngineFlagPolicy/review(_:)``.
    public struct Review: Sendable, Hashable {
        /// The arguments with every removed flag taken out (refused ones too), order kept.
        public var kept: EngineArgs
        /// Removed flags that were present and dropped, in order of first appearance.
        public var dropped: [RemovedFlag]
        /// Removed flags that were present and refuse the tier, in order of first appearance.
        public var refused: [RemovedFlag]
    }

    /// The image this table describes, e.g. `vllm/vllm-openai:v0.12.0`.
    public var image: String
    /// The flags the image rejects.
    public var removedFlags: [RemovedFlag]

    /// A table for one image.
    public init(image: String, removedFlags: [RemovedFlag]) {
        self.image = image
        self.removedFlags = removedFlags
    }

    /// Sorts the arguments' removed flags into dropped and refused, and returns the rest.
    public func review(_ args: EngineArgs) -> Review {
        var dropped: [RemovedFlag] = []
        var refused: [RemovedFlag] = []
        var kept: [EngineArgs.Argument] = []
        for argument in args.arguments {
            guard let flag = argument.flag, let removed = removedFlags.first(where: { $0.flag == flag }) else {
                kept.append(argument)
                continue
            }
            switch removed.action {
            case .drop: if !dropped.contains(removed) { dropped.append(removed) }
            case .refuse: if !refused.contains(removed) { refused.append(removed) }
            }
        }
        return Review(kept: EngineArgs(checkedArguments: kept), dropped: dropped, refused: refused)
    }
}

extension EngineFlagPolicy {
    /// The vLLM image Tandem deploys when `spec.image` is absent: the release this flag table
    /// was written against (vLLM v0.12.0, Docker Hub `vllm/vllm-openai`).
    public static let pinnedVLLMImage = "vllm/vllm-openai:v0.12.0"

    /// Flags vLLM v0.12.0 rejects. Release numbers are from vLLM's release notes and
    /// deprecation warnings as remembered, not re-checked against the source.
    public static let vllmV0_12_0 = EngineFlagPolicy(
        image: pinnedVLLMImage,
        removedFlags: [
            RemovedFlag(
                flag: "--disable-log-requests", removedIn: "0.12",  // per API.md; deprecated for --enable-log-requests in 0.10
                action: .drop(reason: "request logging is off by default since vLLM 0.10 (--enable-log-requests turns it on)")),
            RemovedFlag(
                flag: "--use-v2-block-manager", removedIn: "0.7",  // a no-op from 0.6.2 (v2 became the only block manager), later removed
                action: .drop(reason: "the v2 block manager has been the only one since vLLM 0.6.2")),
            RemovedFlag(
                flag: "--worker-use-ray", removedIn: "0.6",  // replaced by --distributed-executor-backend=ray
                action: .drop(reason: "single-node replicas use vLLM's default multiprocessing executor")),
            RemovedFlag(
                flag: "--num-scheduler-steps", removedIn: "0.11",  // multi-step scheduling went with the V0 engine
                action: .drop(reason: "multi-step scheduling was a V0-engine throughput knob; the V1 engine schedules every step")),
            RemovedFlag(
                flag: "--speculative-model", removedIn: "0.9",  // replaced by the --speculative-config JSON (vLLM ~0.8)
                action: .refuse(
                    reason: "speculative decoding must now be written as --speculative-config '{\"model\": ...}'; "
                        + "dropping the flag would serve without the draft model the user asked for")),
        ])

    /// The table for an image, matched by repository and tag with a `docker.io/` prefix
    /// ignored; `nil` for images Tandem has no table for.
    public static func policy(forImage image: String) -> EngineFlagPolicy? {
        var reference = image.trimmingWhitespace()
        for prefix in ["docker.io/", "index.docker.io/"] where reference.hasPrefix(prefix) {
            reference = String(reference.dropFirst(prefix.count))
        }
        return [vllmV0_12_0].first { $0.image == reference }
    }
}
