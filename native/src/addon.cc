// Node-API surface of the raw-socket core. C++ exceptions are disabled
// (NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS): errors become pending JS
// exceptions and every entry point returns right after raising one.
//
// Ownership: the JS handle (CaptureHandle) and the thread-safe function both
// hold a shared_ptr<Core>; the pool memory is additionally held by the
// external ArrayBuffer JS views it through. Whoever goes last frees.
#include <napi.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "capture.h"
#include "listeners.h"
#include "privileges.h"

namespace honeyport {
namespace {

struct Core;
void CallJs(Napi::Env env, Napi::Function callback, Core* core, SlotTicket* ticket);
using Tsfn = Napi::TypedThreadSafeFunction<Core, SlotTicket, CallJs>;

struct Core final : BatchSink {
  std::unique_ptr<Capture> capture;
  std::shared_ptr<HandoffPool> pool;
  Tsfn tsfn;
  napi_env env = nullptr;
  // All below: JS thread only.
  bool closed = false;
  bool tsfnFinalized = false;
  bool hookRegistered = false;
  uint64_t delivered = 0;
  uint64_t batches = 0;

  // Capture thread. Never blocks: a full queue is a hand-off drop.
  bool Deliver(SlotTicket* ticket) override {
    return tsfn.NonBlockingCall(ticket) == napi_ok;
  }
};

void CallJs(Napi::Env env, Napi::Function callback, Core* core, SlotTicket* ticket) {
  if (ticket == nullptr) return;
  // env is null when the function is being torn down; after close() the
  // consumer must not hear from us again. Either way the slot is freed.
  if (env != nullptr && !core->closed && !callback.IsEmpty()) {
    ++core->batches;
    core->delivered += ticket->count;
    callback.Call({Napi::Number::New(env, ticket->slot), Napi::Number::New(env, ticket->count)});
  }
  core->pool->Release(ticket->slot);
}

// Stops everything native and lets the TSFN finish. Idempotent; no JS calls,
// so it is safe from a GC finalizer and from an environment cleanup hook.
void CloseCore(Core& core) {
  if (core.closed) return;
  core.closed = true;
  core.capture->Close();  // joins the thread: no NonBlockingCall after this
  if (!core.tsfnFinalized) core.tsfn.Release();
}

void CleanupHook(void* arg) {
  auto* core = static_cast<Core*>(arg);
  core->hookRegistered = false;  // being run: Node drops it itself
  CloseCore(*core);
}

void CloseAndUnhook(Core& core) {
  if (core.hookRegistered) {
    napi_remove_env_cleanup_hook(core.env, CleanupHook, &core);
    core.hookRegistered = false;
  }
  CloseCore(core);
}

// ---- option parsing --------------------------------------------------------

bool Fail(Napi::Env env, const std::string& message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return false;
}

bool ReadUint(Napi::Object options, const char* key, uint32_t fallback, uint32_t* out) {
  Napi::Value v = options.Get(key);
  if (v.IsUndefined()) {
    *out = fallback;
    return true;
  }
  if (!v.IsNumber()) return Fail(options.Env(), std::string(key) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 4294967295.0) || d != static_cast<double>(static_cast<uint32_t>(d))) {
    return Fail(options.Env(), std::string(key) + " must be an integer in 0..2^32-1");
  }
  *out = static_cast<uint32_t>(d);
  return true;
}

bool ReadFilter(Napi::Value v, std::vector<sock_filter>* out) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    return Fail(v.Env(), "filter must be a Buffer of sock_filter instructions");
  }
  auto bytes = v.As<Napi::Uint8Array>();
  const size_t length = bytes.ByteLength();
  if (length == 0 || length % sizeof(sock_filter) != 0) {
    return Fail(v.Env(), "filter length must be a positive multiple of 8 bytes");
  }
  out->resize(length / sizeof(sock_filter));
  std::memcpy(out->data(), bytes.Data(), length);
  return true;
}

bool ReadConfig(Napi::Object options, CaptureConfig* config) {
  Napi::Env env = options.Env();
  Napi::Value names = options.Get("interfaces");
  if (!names.IsArray()) return Fail(env, "interfaces must be an array of names");
  auto array = names.As<Napi::Array>();
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value name = array.Get(i);
    if (!name.IsString()) return Fail(env, "interfaces must be an array of names");
    config->interfaces.push_back(name.As<Napi::String>().Utf8Value());
  }
  const CaptureConfig defaults;
  uint32_t fanout = 0;
  const bool hasFanout = !options.Get("fanoutGroup").IsUndefined();
  if (!ReadUint(options, "ringBlockSize", defaults.blockSize, &config->blockSize) ||
      !ReadUint(options, "ringBlockCount", defaults.blockCount, &config->blockCount) ||
      !ReadUint(options, "frameSize", defaults.frameSize, &config->frameSize) ||
      !ReadUint(options, "blockTimeoutMs", defaults.blockTimeoutMs, &config->blockTimeoutMs) ||
      !ReadUint(options, "snapLength", defaults.snapLength, &config->snapLength) ||
      !ReadUint(options, "handoffSlots", defaults.handoffSlots, &config->handoffSlots) ||
      !ReadUint(options, "handoffWaitMs", defaults.handoffWaitMs, &config->handoffWaitMs) ||
      !ReadUint(options, "fullBlockPauseMs", defaults.fullBlockPauseMs, &config->fullBlockPauseMs) ||
      !ReadUint(options, "fanoutGroup", 0, &fanout) ||
      !ReadFilter(options.Get("filter"), &config->filter)) {
    return false;
  }
  if (hasFanout && fanout > 0xffff) return Fail(env, "fanoutGroup must be 0..65535");
  config->fanoutGroup = hasFanout ? static_cast<int32_t>(fanout) : -1;
  Napi::Value held = options.Get("held");
  if (!held.IsUndefined()) {
    if (!held.IsBoolean()) return Fail(env, "held must be a boolean");
    config->held = held.As<Napi::Boolean>().Value();
  }
  Napi::Value ignore = options.Get("kernelIgnoreOutgoing");
  if (!ignore.IsUndefined()) {
    if (!ignore.IsBoolean()) return Fail(env, "kernelIgnoreOutgoing must be a boolean");
    config->kernelIgnoreOutgoing = ignore.As<Napi::Boolean>().Value();
  }
  return true;
}

Napi::Object LayoutObject(Napi::Env env, const SlotLayout& l) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("slots", l.slots);
  o.Set("frameCapacity", l.frameCapacity);
  o.Set("dataCapacity", l.dataCapacity);
  o.Set("stride", static_cast<double>(l.stride));
  o.Set("tsOffset", static_cast<double>(l.tsOffset));
  o.Set("offsetOffset", static_cast<double>(l.offsetOffset));
  o.Set("caplenOffset", static_cast<double>(l.caplenOffset));
  o.Set("wirelenOffset", static_cast<double>(l.wirelenOffset));
  o.Set("ifaceOffset", static_cast<double>(l.ifaceOffset));
  o.Set("vlanOffset", static_cast<double>(l.vlanOffset));
  o.Set("linktypeOffset", static_cast<double>(l.linktypeOffset));
  o.Set("dataOffset", static_cast<double>(l.dataOffset));
  return o;
}

// ---- the handle ------------------------------------------------------------

struct AddonData {
  Napi::FunctionReference handleConstructor;
};

class CaptureHandle : public Napi::ObjectWrap<CaptureHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "CaptureHandle",
                       {InstanceMethod<&CaptureHandle::Resume>("resume"),
                        InstanceMethod<&CaptureHandle::SetFilter>("setFilter"),
                        InstanceMethod<&CaptureHandle::Stats>("stats"),
                        InstanceMethod<&CaptureHandle::Close>("close"),
                        InstanceMethod<&CaptureHandle::Ref>("ref"),
                        InstanceMethod<&CaptureHandle::Unref>("unref")});
  }

  // Only open() constructs handles: it passes the Core as an External.
  explicit CaptureHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CaptureHandle>(info) {
    if (info.Length() != 1 || !info[0].IsExternal()) {
      Napi::TypeError::New(info.Env(), "use open()").ThrowAsJavaScriptException();
      return;
    }
    core_ = *info[0].As<Napi::External<std::shared_ptr<Core>>>().Data();
  }

  ~CaptureHandle() override {
    if (core_) CloseAndUnhook(*core_);
  }

 private:
  // Starts the capture thread of a capture opened `held`: until then frames
  // wait in the ring and nothing of theirs reaches JavaScript.
  Napi::Value Resume(const Napi::CallbackInfo& info) {
    std::string error;
    if (core_->closed || !core_->capture->Start(core_.get(), &error)) {
      Napi::Error::New(info.Env(), core_->closed ? "capture is closed" : error).ThrowAsJavaScriptException();
    }
    return info.Env().Undefined();
  }

  Napi::Value SetFilter(const Napi::CallbackInfo& info) {
    std::vector<sock_filter> filter;
    if (!ReadFilter(info[0], &filter)) return info.Env().Undefined();
    std::string error;
    if (!core_->capture->SetFilter(filter, &error)) {
      Napi::Error::New(info.Env(), error).ThrowAsJavaScriptException();
    }
    return info.Env().Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    const CaptureStats s = core_->capture->Stats();
    Napi::Object o = Napi::Object::New(info.Env());
    auto set = [&o](const char* key, uint64_t v) { o.Set(key, static_cast<double>(v)); };
    set("kernelPackets", s.kernelPackets);
    set("kernelDrops", s.kernelDrops);
    set("kernelFreezes", s.kernelFreezes);
    set("blocks", s.blocks);
    set("framesQueued", s.framesQueued);
    set("handoffDropFrames", s.handoffDropFrames);
    set("handoffDropBlocks", s.handoffDropBlocks);
    set("outgoingSkipped", s.outgoingSkipped);
    set("unsupportedLink", s.unsupportedLink);
    set("overflow", s.overflow);
    set("malformedBlocks", s.malformedBlocks);
    set("socketErrors", s.socketErrors);
    set("framesDelivered", core_->delivered);
    set("batchesDelivered", core_->batches);
    return o;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    CloseAndUnhook(*core_);
    return info.Env().Undefined();
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (!core_->closed && !core_->tsfnFinalized) core_->tsfn.Ref(info.Env());
    return info.Env().Undefined();
  }

  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (!core_->closed && !core_->tsfnFinalized) core_->tsfn.Unref(info.Env());
    return info.Env().Undefined();
  }

  std::shared_ptr<Core> core_;
};

void FinalizeTsfn(Napi::Env, std::shared_ptr<Core>* holder, Core* core) {
  // Runs on the JS thread once no call can be queued any more (released, or
  // the environment is going away). Stop the thread before the TSFN's memory
  // goes: it may still be about to call NonBlockingCall.
  core->tsfnFinalized = true;
  core->capture->StopThread();
  delete holder;
}

// open(options, onBlock(slot, count)) -> CaptureHandle
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
    Napi::TypeError::New(env, "open(options, onBlock)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  CaptureConfig config;
  if (!ReadConfig(info[0].As<Napi::Object>(), &config)) return env.Undefined();

  std::string error;
  auto core = std::make_shared<Core>();
  core->env = env;
  core->capture = Capture::Open(config, &error);
  if (!core->capture) {
    Napi::Error::New(env, error).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  core->pool = core->capture->pool();

  auto* holder = new std::shared_ptr<Core>(core);
  core->tsfn = Tsfn::New(env, info[1].As<Napi::Function>(), "honeyport-afpacket",
                         core->pool->layout().slots, 1, core.get(), FinalizeTsfn, holder);
  if (env.IsExceptionPending()) {
    delete holder;
    core->capture->Close();
    return env.Undefined();
  }
  if (!config.held && !core->capture->Start(core.get(), &error)) {
    core->tsfn.Release();
    Napi::Error::New(env, error).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  napi_add_env_cleanup_hook(env, CleanupHook, core.get());
  core->hookRegistered = true;

  auto* data = env.GetInstanceData<AddonData>();
  Napi::Object handle = data->handleConstructor.New({Napi::External<std::shared_ptr<Core>>::New(env, &core)});
  if (env.IsExceptionPending()) {
    CloseAndUnhook(*core);
    return env.Undefined();
  }
  const SlotLayout& layout = core->pool->layout();
  auto* poolRef = new std::shared_ptr<HandoffPool>(core->pool);
  Napi::ArrayBuffer memory = Napi::ArrayBuffer::New(
      env, core->pool->memory(), layout.TotalBytes(),
      [](Napi::Env, void*, std::shared_ptr<HandoffPool>* ref) { delete ref; }, poolRef);
  handle.Set("memory", memory);
  handle.Set("layout", LayoutObject(env, layout));
  return handle;
}

// ---- privileges (privileges.h) ---------------------------------------------

bool ReadId(Napi::Value v, const char* what, uint32_t* out) {
  if (!v.IsNumber()) return Fail(v.Env(), std::string(what) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  // (uid_t)-1 means "unchanged" to the set*id calls: never a valid target.
  if (!(d >= 0 && d < 4294967295.0) || d != static_cast<double>(static_cast<uint32_t>(d))) {
    return Fail(v.Env(), std::string(what) + " must be an integer in 0..2^32-2");
  }
  *out = static_cast<uint32_t>(d);
  return true;
}

// lookupUser(name) -> { uid, gid } | null
Napi::Value LookupUserJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "lookupUser(name)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  UserEntry entry;
  std::string error;
  if (!LookupUser(info[0].As<Napi::String>().Utf8Value(), &entry, &error)) {
    if (!error.empty()) Napi::Error::New(env, error).ThrowAsJavaScriptException();
    return env.Null();
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("uid", static_cast<double>(entry.uid));
  o.Set("gid", static_cast<double>(entry.gid));
  return o;
}

// assumeUser(uid, gid)
Napi::Value AssumeUserJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t uid = 0, gid = 0;
  if (!ReadId(info[0], "uid", &uid) || !ReadId(info[1], "gid", &gid)) return env.Undefined();
  std::string error;
  if (!AssumeUser(uid, gid, &error)) Napi::Error::New(env, error).ThrowAsJavaScriptException();
  return env.Undefined();
}

// resumeRoot()
Napi::Value ResumeRootJs(const Napi::CallbackInfo& info) {
  std::string error;
  if (!ResumeRoot(&error)) Napi::Error::New(info.Env(), error).ThrowAsJavaScriptException();
  return info.Env().Undefined();
}

// dropPrivileges(uid, gid, keep: number[])
Napi::Value DropPrivilegesJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t uid = 0, gid = 0;
  if (!ReadId(info[0], "uid", &uid) || !ReadId(info[1], "gid", &gid)) return env.Undefined();
  if (!info[2].IsArray()) {
    Napi::TypeError::New(env, "keep must be an array of capability numbers").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto array = info[2].As<Napi::Array>();
  std::vector<int> keep;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value v = array.Get(i);
    const double cap = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    if (!(cap >= 0 && cap <= 63) || cap != static_cast<double>(static_cast<int>(cap))) {
      Napi::TypeError::New(env, "capability numbers are integers in 0..63").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    keep.push_back(static_cast<int>(cap));
  }
  std::string error;
  if (!DropPrivileges(uid, gid, keep, &error)) Napi::Error::New(env, error).ThrowAsJavaScriptException();
  return env.Undefined();
}

// ---- listening sockets (listeners.h) -----------------------------------------

// listeningTcp(family: 4 | 6, maxEntries) ->
//   { status: 'ok', complete, sockets: [{ address, port, uid, inode }] }
// | { status: 'unavailable' | 'failed', reason }
Napi::Value ListeningTcpJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const double family = info.Length() == 2 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 0;
  const double max = info.Length() == 2 && info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : -1;
  if ((family != 4 && family != 6) || !(max >= 0 && max <= 1e8) || max != static_cast<double>(static_cast<size_t>(max))) {
    Napi::TypeError::New(env, "listeningTcp(family: 4 | 6, maxEntries: integer)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::vector<TcpListener> found;
  bool complete = false;
  std::string error;
  const DumpResult result =
      DumpTcpListeners(family == 4 ? AF_INET : AF_INET6, static_cast<size_t>(max), &found, &complete, &error);
  Napi::Object o = Napi::Object::New(env);
  if (result != DumpResult::kOk) {
    o.Set("status", result == DumpResult::kUnavailable ? "unavailable" : "failed");
    o.Set("reason", error);
    return o;
  }
  Napi::Array sockets = Napi::Array::New(env, found.size());
  for (size_t i = 0; i < found.size(); ++i) {
    const TcpListener& l = found[i];
    Napi::Object s = Napi::Object::New(env);
    Napi::Uint8Array address = Napi::Uint8Array::New(env, l.address_length);
    std::memcpy(address.Data(), l.address, l.address_length);
    s.Set("address", address);
    s.Set("port", static_cast<double>(l.port));
    s.Set("uid", static_cast<double>(l.uid));
    s.Set("inode", static_cast<double>(l.inode));
    sockets.Set(static_cast<uint32_t>(i), s);
  }
  o.Set("status", "ok");
  o.Set("complete", complete);
  o.Set("sockets", sockets);
  return o;
}

// ---- malloc ------------------------------------------------------------------

// trimMalloc() -> boolean: glibc's malloc_trim(0) gives the free pages of
// every malloc arena back to the kernel (madvise), not only the top of the
// main heap as free() does by itself. Start-up leaves several MiB free but
// resident (V8's compiler threads' zones, config parsing); true when some
// memory was released. false without glibc (nothing to do there).
Napi::Value TrimMallocJs(const Napi::CallbackInfo& info) {
#if defined(__GLIBC__)
  return Napi::Boolean::New(info.Env(), malloc_trim(0) == 1);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

// exitNow(code): _exit(code), for the stop's deadline. process.exit() first
// shuts libuv down, which joins its thread pool: one pool thread stuck in the
// kernel (opening a FIFO, a hung network mount) holds the process forever.
// Nothing is flushed here: stderr and stdout lines were written synchronously.
Napi::Value ExitNowJs(const Napi::CallbackInfo& info) {
  _exit(info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 1);
}

// adviseDontNeed(ranges: Float64Array) -> number: madvise(MADV_DONTNEED)
// over each [ranges[2i], ranges[2i+1]) and the bytes advised. The caller
// (src/sensor/resident-file-pages.ts) picks only read-only private file
// mappings with no anonymous page, where this drops page-table entries of
// clean pages that fault back from the page cache. Each pair must be
// page-aligned, non-empty and below 2^47 (a user address); a pair that is not
// is refused with a TypeError before anything is advised. A pair madvise
// refuses (unmapped since, locked) is skipped.
Napi::Value AdviseDontNeedJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    Napi::TypeError::New(env, "adviseDontNeed(ranges: Float64Array)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto ranges = info[0].As<Napi::Float64Array>();
  const size_t n = ranges.ElementLength();
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  const double limit = 140737488355328.0;  // 2^47
  if (n % 2 != 0) {
    Napi::TypeError::New(env, "adviseDontNeed: ranges come in [start, end) pairs").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  for (size_t i = 0; i < n; i += 2) {
    const double s = ranges[i];
    const double e = ranges[i + 1];
    if (!(s >= 0 && e > s && e <= limit) || std::fmod(s, page) != 0 || std::fmod(e, page) != 0) {
      Napi::TypeError::New(env, "adviseDontNeed: a range is not page-aligned, empty or beyond user space").ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }
  double advised = 0;
  for (size_t i = 0; i < n; i += 2) {
    auto* start = reinterpret_cast<void*>(static_cast<uintptr_t>(ranges[i]));
    const auto length = static_cast<size_t>(ranges[i + 1] - ranges[i]);
    if (madvise(start, length, MADV_DONTNEED) == 0) advised += static_cast<double>(length);
  }
  return Napi::Number::New(env, advised);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  data->handleConstructor = Napi::Persistent(CaptureHandle::Define(env));
  env.SetInstanceData(data);
  exports.Set("open", Napi::Function::New<Open>(env, "open"));
  exports.Set("lookupUser", Napi::Function::New<LookupUserJs>(env, "lookupUser"));
  exports.Set("assumeUser", Napi::Function::New<AssumeUserJs>(env, "assumeUser"));
  exports.Set("resumeRoot", Napi::Function::New<ResumeRootJs>(env, "resumeRoot"));
  exports.Set("dropPrivileges", Napi::Function::New<DropPrivilegesJs>(env, "dropPrivileges"));
  exports.Set("listeningTcp", Napi::Function::New<ListeningTcpJs>(env, "listeningTcp"));
  exports.Set("trimMalloc", Napi::Function::New<TrimMallocJs>(env, "trimMalloc"));
  exports.Set("adviseDontNeed", Napi::Function::New<AdviseDontNeedJs>(env, "adviseDontNeed"));
  exports.Set("exitNow", Napi::Function::New<ExitNowJs>(env, "exitNow"));
  return exports;
}

}  // namespace
}  // namespace honeyport

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  return honeyport::Init(env, exports);
}

NODE_API_MODULE(honeyport_native, InitModule)
