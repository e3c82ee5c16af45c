"""Recording: each camera's processed frames in short segment files, every frame's time and tracked boxes
in the database, retention by age, disk budget and alert tiers, and a full disk that stops recording
(never the pipeline).

- `policy`: pure retention decisions; `frameindex`, `boxlog`: the packed per-frame times and boxes.
- `segments`: segment files (OpenCV); `recorder`: a camera's writer thread behind a bounded queue;
  `streamcopy`, `copyrecorder`: the source's own video kept instead (PyAV remux, recording.mode copy);
  `retention`: rows and files deleted consistently, orphans swept; `service`: all of a run's;
  `read`: frames and boxes of a camera over a time range.
"""
