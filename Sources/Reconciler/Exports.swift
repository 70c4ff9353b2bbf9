// `import Reconciler` gives the whole reconciler: its lower layers are separate targets so that the compiler keeps
// the layering (see docs/architecture.md), but a client such as the CLI or the console wants them all.
@_exported import RackswarmCore
@_exported import ReconcilerLoading
@_exported import ReconcilerModel
@_exported import ReconcilerStore
// The site source speaks the git driver's vocabulary (credentials, checkouts).
@_exported import GitDriver
