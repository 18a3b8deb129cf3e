"""Documented constants. Each is a default a user or setting may override;
the reason for its value is written beside it."""

# --- clips -------------------------------------------------------------------
#: Seconds of video kept before the serve contact: the serve toss and run-up.
PAD_BEFORE = 1.5
#: Seconds kept after the ball is dead: the reaction to the point.
PAD_AFTER = 2.0
#: How many rallies the best reel holds.
BEST_COUNT = 5
#: Height of the web clips; sources taller than this are not upscaled, only taller ones
#: are transcoded down when a transcode is needed anyway.
WEB_MAX_HEIGHT = 1080
#: x264 settings for what Volley transcodes whole (HEVC, 10-bit, interlaced sources).
X264_PRESET = "veryfast"
X264_CRF = 20
#: ...and for the frames a smart cut re-encodes (a clip's head, up to a GOP, and the few
#: frames of its tail). Every rally is cut while the game is still being analysed, so
#: this competes with decoding for the CPU: ultrafast (with B-frames where the source
#: has them, see framer.parts) costs about 55 % of veryfast's CPU, decoding included
#: (KATS-BEDS 720p, 4 s: 1.0 against 1.9 CPU-s), at nearly the same fidelity to the
#: source (PSNR 43.4 against 44.0 dB, SSIM 0.986 / 0.991) for 1.5x the bits on those
#: few frames.
CUT_X264_PRESET = "ultrafast"
CUT_X264_CRF = 23
#: AAC bitrate of clip audio (audio is always re-encoded: cheap, and keeps it in sync).
AAC_BITRATE = "128k"
#: Poster JPEG quality (0-100; 90 is about what ffmpeg's -q:v 3 gave).
POSTER_QUALITY = 90
#: Posters are at most this wide (pixels): a list of rally thumbnails, not a still.
POSTER_MAX_WIDTH = 640
#: The poster shows the frame this far into the rally (0 = serve, 1 = ball dead): by
#: a third in, the serve is over and the rally is on.
POSTER_AT = 1 / 3
#: ...or the keyframe up to this many seconds before that frame, when there is one
#: within the rally: decoding that frame alone makes a poster two to four times faster than
#: decoding the group of pictures up to the exact frame.
POSTER_SNAP = 1.0
#: What browsers decode: H.264 in these profiles and pixel formats is smart-cut and
#: stream-copied; anything else (HEVC, 10-bit, 4:2:2, interlaced...) is transcoded once.
WEB_H264_PROFILES = ("Baseline", "Constrained Baseline", "Main", "High")
WEB_PIX_FMTS = ("yuv420p", "yuvj420p")

# --- analysis ----------------------------------------------------------------
#: Frames are analysed at this height (pixels), keeping the aspect ratio: the ball is
#: still 3+ px at 4K-to-this scale, and detection costs far less than at full size.
ANALYSIS_HEIGHT = 360
#: Shorter stretches of play are not rallies (a serve into the net lasts about 1 s).
MIN_RALLY = 0.7
#: Games shorter than this cannot hold a rally; the CLI says so instead of guessing.
MIN_VIDEO_SECONDS = 1.0
#: Frames are analysed at most this often per second; 50/60 fps sources are analysed
#: every other frame (all frames are still decoded: H.264 needs them as references).
ANALYSIS_FPS_MAX = 30.0
#: Frames the decoding thread may run ahead of the detector (each a 360p grey image,
#: ~0.2 MB): decoding and detection overlap on separate cores. 0 = no thread.
DECODE_AHEAD = 8
#: A decode that stops before this share of the header's duration means a truncated file.
TRUNCATION_TOLERANCE = 0.9

# --- sharing (front/sharing.py; a VOLLEY_* setting, docs/settings.md) ---------
#: Seconds a media URL handed out by a share page (or GET /api/shares/TOKEN/) stays valid.
#: The open page re-signs its URLs well before then, so viewers notice nothing; what it
#: bounds is a presigned S3 URL taken from a link that is then revoked, which S3 cannot
#: revoke: 10 minutes is a few re-signs an hour for an open page, and a revoked clip's
#: URLs are dead by the time its owner could check. (Embedded, revoking cuts them at once.)
SHARE_URL_EXPIRY = 600

# --- service limits (front/limits.py; each is a VOLLEY_* setting, docs/operations.md) --
#: Browser uploads one user may have under way at once (started, not completed). A
#: phone user uploads one game at a time; a club uploading a weekend's games a few.
MAX_OPEN_UPLOADS = 4
#: Bytes one user's unfinished uploads may declare together: two of the largest games
#: (VOLLEY_MAX_UPLOAD_BYTES, 20 GiB). 200 starts of 20 GiB each were all accepted before.
MAX_BYTES_IN_FLIGHT = 40 * 1024**3
#: Bytes of sources one user may keep stored (uploads under way included): about a season
#: of 3-hour 1080p games at phone bitrates. Clips and reels are not counted: a small
#: fraction of their game.
MAX_BYTES_STORED = 500 * 1024**3
#: Games one user may start per UTC day (direct and browser uploads, also deleted ones):
#: a tournament day is a dozen games; each one costs minutes of a worker.
MAX_GAMES_PER_DAY = 30
#: A browser upload unfinished this many hours is given up (parts deleted, game removed):
#: 20 GiB at 10 Mbit/s takes under 5 h, and a page left overnight can still resume.
UPLOAD_EXPIRY_HOURS = 48
#: The multipart framing around a direct upload's file (boundaries, part headers, the
#: name field): a body longer than the file limit plus this is refused unread.
MULTIPART_OVERHEAD_BYTES = 64 * 1024

# --- log-in and token throttling (front/limits.py) -----------------------------------
#: Wrong passwords for one user name from one address before log-ins wait: typos cost nothing.
LOGIN_FREE_FAILURES = 5
#: The wait after the first failure beyond the free ones; it doubles with each further one...
LOGIN_DELAY_SECONDS = 2
#: ...up to this: a guesser gets about 12 tries an hour per address and name, while the
#: real user waits at most 5 minutes on that address (none on any other).
LOGIN_MAX_DELAY_SECONDS = 300
#: Failures are forgotten this long after the last one.
LOGIN_FORGET_SECONDS = 3600
#: Requests with a wrong API token from one address before that address waits (the same
#: delays): a client with a revoked token retries a few times; a guesser far more.
TOKEN_FREE_FAILURES = 20
