"""Replay and export of recorded footage: frames by time, decoded from segment files, and alert exports.

- `frames`: the recorded frame shown at a time (found through the frame index, decoded by seeking
  its segment file) and runs of frames decoded in order;
- `report`: the pure parts of an export (track as GeoJSON/KML, the HTML incident report with its SVG map);
- `export`: one alert's clip, tracks and report written into a directory.
"""
