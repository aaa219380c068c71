// Types of SE Lens's JavaScript API (selens.js). See the README, "Use it from JavaScript".

export type Backend = 'auto' | 'webgpu' | 'cpu';

export interface CreateOptions {
  /** 'auto' (default): WebGPU where the browser has it, else the CPU. */
  backend?: Backend;
  /** The CPU path's threads: default up to 8 where the page is cross-origin isolated, else 1. */
  threads?: number;
  /** Base URL of a Hugging Face mirror for `hf:` ids (default https://huggingface.co). */
  hub?: string;
  /** SE Lens's wasm (the `app-*_bg.wasm` of `dist/`) already compiled on the page, or a promise of
   * it, so the worker does not compile it again; ignored unless it is the build the worker needs. */
  module?: WebAssembly.Module | Promise<WebAssembly.Module>;
}

export interface PreloadOptions {
  /** As in `create`: the next `create` takes the preloaded worker only with the same threads. */
  threads?: number;
  /** As in `create`. */
  module?: WebAssembly.Module | Promise<WebAssembly.Module>;
  /** A model folder's URL to download and read now; a later `load` of the same URL uses it. */
  model?: string;
  /** Image URLs to download now; the first `classify` (or `decode`) of each uses it. */
  images?: string[];
}

export type Bytes = Blob | ArrayBuffer | Uint8Array;

/**
 * A model: a URL (a timm folder with config.json and model.safetensors, or an .onnx file),
 * `hf:owner/name`, a timm folder's two files, or an ONNX file with its external data files by name.
 */
export type ModelSource =
  | string
  | { config: Bytes; weights: Bytes; name?: string }
  | { onnx: Bytes; name?: string; data?: Record<string, Bytes> };

/**
 * How an ONNX file's input is prepared (an ONNX file carries none); what is not set is ImageNet's
 * (timm's defaults). Mean and std are in the model's channel order, on the 0–1 scale unless `scale`.
 */
export interface OnnxOptions {
  /** [height, width], for a file whose input size is open (224×224 if unset). */
  input_size?: [number, number];
  mean?: number[];
  std?: number[];
  /** 255: mean and std are given on pixels 0–255. */
  scale?: number;
  interpolation?: 'bilinear' | 'bicubic';
  /** The centre crop's fraction kept (0.875). */
  crop_pct?: number;
  /** One name per class. */
  labels?: string[];
  channel_order?: 'rgb' | 'bgr';
}

export interface SeBlock {
  /** The SE module's path in the model (`layer2.0.se`). */
  name: string;
  channels: number;
}

export interface ModelInfo {
  name: string;
  /** The timm architecture name (or the ONNX file's name). */
  architecture: string;
  /** [channels, height, width] the model takes. */
  inputSize: [number, number, number];
  labels: string[];
  blocks: SeBlock[];
  /** What runs: 'webgpu' or 'cpu'. */
  backend: 'webgpu' | 'cpu';
  adapter: string | null;
  /** Why the CPU runs although a GPU was asked for. */
  fallbackReason: string | null;
  /** Why `auto` chose what it chose, with the timings it measured, if it measured. */
  note: string | null;
  /** The CPU path's threads. */
  threads: number;
}

/** Where the loaded model runs after `setBackend`. */
export interface BackendInfo {
  backend: 'webgpu' | 'cpu';
  adapter: string | null;
  fallbackReason: string | null;
  note: string | null;
}

export type ImageInput =
  | string
  | Blob
  | ImageBitmap
  | ImageData
  | HTMLImageElement
  | HTMLCanvasElement
  | HTMLVideoElement
  | OffscreenCanvas;

export interface ClassifyOptions {
  /** A newer classification for the same view supersedes an older one (default 'default'). */
  view?: string;
  /** Classes listed in `top` (default 5). */
  topK?: number;
  /** SE blocks whose gates are set to ones in a second run, reported as `ablated`. */
  ablate?: string[];
  /** Each block's heatmap as ImageData: 'block' (its own range, the app's default) or 'absolute' (0 to 1). */
  heatmaps?: 'block' | 'absolute';
  /** Blocks done and in all, as the CPU path goes. */
  onProgress?: (done: number, all: number) => void;
}

export interface Prediction {
  index: number;
  label: string;
  prob: number;
}

export interface Excitation {
  /** The SE block (`layer2.0.se`). */
  block: string;
  /** Its gate: one value per channel, in [0, 1]. */
  values: Float32Array;
  /** One pixel per channel, row-major, 32 or 64 columns (only with `heatmaps`). */
  heatmap?: ImageData;
}

/** One run: the CLI's `se-lens classify --json` report, gates as Float32Arrays. */
export interface Run {
  model: string;
  backend: 'webgpu' | 'cpu';
  adapter?: string;
  fallback_reason?: string;
  top: Prediction[];
  logits: Float32Array;
  excitations: Excitation[];
}

export interface Classification extends Run {
  /** Milliseconds: the model's load, decoding and preprocessing the image, the forward pass. */
  timings_ms: { load: number; preprocess: number; forward: number };
  /** The run with the `ablate`d blocks' gates set to ones. */
  ablated?: Run;
  /** The CPU path's threads when the run started. */
  threads: number;
  /** The engine's wasm build: with relaxed SIMD where the browser has it, else SIMD128. */
  simd: 'relaxed' | 'simd128';
}

export class SupersededError extends Error {}

/** Whether this browser runs WebAssembly's relaxed SIMD (the engine then loads its relaxed-SIMD build). */
export const RELAXED_SIMD: boolean;

/** The name of the app's wasm build beside selens.js for a page with threads or without. */
export function wasmBuild(threaded: boolean): string;

export class SeLens {
  static create(options?: CreateOptions): Promise<SeLens>;
  /** Starts an engine worker now (and downloads `model` and `images`), for the next `create` to take. */
  static preload(options?: PreloadOptions): void;
  load(source: ModelSource, options?: { onProgress?: (loaded: number, total: number | null) => void; onnx?: OnnxOptions }): Promise<ModelInfo>;
  classify(image: ImageInput, options?: ClassifyOptions): Promise<Classification>;
  /** Sets the loaded model's backend up again ('auto', 'webgpu' or 'cpu'); later loads use it too. */
  setBackend(backend: 'auto' | 'webgpu' | 'cpu'): Promise<BackendInfo>;
  /** Stops `view`'s running request (it rejects with a SupersededError). */
  cancel(view: string): void;
  /** What the loaded model is, or null. */
  readonly model: ModelInfo | null;
  /** Called when the engine crashed and was started again with the same model. */
  onrestart: ((event: { message: string }) => void) | null;
  close(): void;
}
