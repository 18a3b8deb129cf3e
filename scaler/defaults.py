"""Documented constants of the scaler. The ones a deployment may want to change are
settings (`scaler.settings`, docs/settings.md "The scaler"); the reason for each value
is written beside it."""

# --- sizing ------------------------------------------------------------------
#: Seconds between two decisions: a new node takes minutes to boot, so deciding more
#: often buys nothing, and each tick costs a few database and API calls.
INTERVAL = 30
#: Seconds a worker pod must have been idle before it may be removed (and the pool
#: scaled to zero): games come in bursts, and a node costs minutes to bring back.
COOLDOWN = 600
MIN_WORKERS = 0
MAX_WORKERS = 10
#: One game per worker pod: a pod analyses one game at a time (the vproc container
#: takes most of a node), so a second game on the same pod would only wait.
GAMES_PER_WORKER = 1
#: The worker Deployment asks for one pod per node (required anti-affinity).
PODS_PER_NODE = 1
#: Seconds an unfinished browser upload counts as a game to come, so that the pool is
#: up when the upload ends. An upload left unfinished longer is taken for abandoned.
UPLOAD_WINDOW = 3600
#: `autoscale` keeps DigitalOcean's cluster autoscaler on with min_nodes as the floor
#: the scaler wants (the only way DOKS takes a pool down to zero nodes); `count`
#: turns it off and sets the node count itself.
POOL_MODES = ("autoscale", "count")
POOL_MODE = "autoscale"

# --- Kubernetes ----------------------------------------------------------------
NAMESPACE = "default"
DEPLOYMENT = "volley-worker"
#: On the worker Deployment, "true" stops the scaler from changing anything (it still
#: decides and logs): hand scaling wins.
PAUSE_ANNOTATION = "volley.dev/scaler-paused"
#: The ReplicaSet controller removes the pods with the lowest cost first (Kubernetes
#: >= 1.22), so marking pods is how the scaler chooses which pods a scale-down removes.
DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"
#: Idle through the cool-down: these go first.
COST_IDLE = "-100"
#: Idle, but not yet for the whole cool-down: after the idle ones.
COST_WARM = "0"
#: Running a stage or holding an unfinished game's files: never chosen (the scaler only
#: lowers the replicas by as many pods as come before these).
COST_BUSY = "1000000"
#: The cluster autoscaler never evicts a pod marked so, hence never removes its node
#: on its own: worker pods leave only when the scaler lowers the replicas.
SAFE_TO_EVICT_ANNOTATION = "cluster-autoscaler.kubernetes.io/safe-to-evict"

# --- DigitalOcean API ----------------------------------------------------------
DO_API_URL = "https://api.digitalocean.com"
#: Seconds one API request may take.
DO_TIMEOUT = 30.0
#: Tries of one request that met a 429, a 5xx or a dropped connection.
DO_ATTEMPTS = 5
#: Seconds before the first retry, doubled each time up to DO_BACKOFF_MAX.
DO_BACKOFF = 1.0
DO_BACKOFF_MAX = 30.0
#: Node states that are, or will be, capacity (DigitalOcean's node.status.state).
NODE_STATES_UP = ("provisioning", "running")

# --- metrics -------------------------------------------------------------------
METRICS_PORT = 9100
#: /healthz fails when no tick has ended for this many intervals, and at least
#: HEALTH_GRACE seconds (the loop is stuck: a tick retrying a slow API takes minutes).
#: Failed ticks count as ended: an outage of an API is not cured by a restart.
HEALTHY_INTERVALS = 5
HEALTH_GRACE = 600
