/// The deterministic simulator. See the files of this target.
///
/// Reusable pieces: `EventQueue` (virtual clock and agenda, ties broken by scheduling
/// order), `SimulatedNetwork` with `NetworkConditions` (loss, duplication, delay spread,
/// symmetric and one-way partitions), `FaultProfile` (a seed's swarm-testing mix of
/// faults), `TraceHash`. The Totem layer: `TotemCluster` (N instances, pause, crash and
/// restart with the persisted ring seq), `TotemSimulation` (one seeded run: fault phase,
/// liveness phase, checks), `TotemOrderChecker` and `TotemEVSChecker`.
public enum Simulator {}
