{
  # Built by `npm install` (node-gyp, offline: npm's nodedir points at the
  # local Node headers). native/CMakeLists.txt builds the same sources with
  # sanitizers and the native tests.
  "targets": [
    {
      "target_name": "honeyport_native",
      "sources": [
        "native/src/addon.cc",
        "native/src/capture.cc",
        "native/src/block_walker.cc",
        "native/src/handoff_pool.cc",
        "native/src/listeners.cc",
        "native/src/privileges.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS"
      ],
      "cflags!": ["-fexceptions"],
      "cflags_cc!": ["-fexceptions", "-std=gnu++17", "-std=gnu++20"],
      "cflags": ["-Wall", "-Wextra", "-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-fno-exceptions", "-O2"],
      "conditions": [
        ["OS!='linux'", {
          "type": "none"
        }]
      ]
    }
  ]
}
