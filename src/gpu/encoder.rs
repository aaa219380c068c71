use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::pipelines::PipelineKey;
use super::{GpuContext, GpuError};
use crate::engine::Tensor;

/// WebGPU guarantees at least this many workgroups per dispatch dimension.
pub(crate) const MAX_WORKGROUPS: u32 = 65_535;

/// An NCHW f32 tensor in GPU memory. Its buffer goes back to the run's free list when it is
/// dropped, so later ops of the same run reuse it (the queue keeps their order).
pub struct GpuTensor {
    pub shape: [usize; 4],
    pub(crate) buffer: wgpu::Buffer,
    free: Rc<FreeList>,
}

impl GpuTensor {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for GpuTensor {
    fn drop(&mut self) {
        self.free.give(self.buffer.clone());
    }
}

/// Buffers no tensor holds any more, by byte size (a ResNet repeats a handful of shapes).
#[derive(Default)]
struct FreeList(RefCell<HashMap<u64, Vec<wgpu::Buffer>>>);

impl FreeList {
    fn take(&self, size: u64) -> Option<wgpu::Buffer> {
        self.0.borrow_mut().get_mut(&size)?.pop()
    }

    fn give(&self, buffer: wgpu::Buffer) {
        self.0
            .borrow_mut()
            .entry(buffer.size())
            .or_default()
            .push(buffer);
    }
}

/// One GPU run: ops are recorded into one command buffer, submitted once, and only the tensors
/// asked for with [`Encoder::read`] come back. Dispatches go into one compute pass until a copy
/// needs the encoder, and their parameters into shared uniform buffers (`Uniforms`): per
/// dispatch, recording makes only its bind group.
pub struct Encoder<'a> {
    pub(crate) context: &'a GpuContext,
    /// The open compute pass (declared before `encoder`, so that it ends first when dropped).
    pass: Option<wgpu::ComputePass<'static>>,
    encoder: wgpu::CommandEncoder,
    uniforms: Uniforms,
    free: Rc<FreeList>,
    reads: Vec<GpuTensor>,
    /// Error scopes held for the whole run: a shader, pipeline or buffer error becomes a
    /// [`GpuError`] of this run instead of a panic. Scopes pop in reverse order, so the inner
    /// one is declared (and dropped) first.
    validation: wgpu::ErrorScopeGuard,
    memory: wgpu::ErrorScopeGuard,
}

impl GpuContext {
    pub fn encoder(&self) -> Encoder<'_> {
        let memory = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        Encoder {
            context: self,
            pass: None,
            encoder: self.device.create_command_encoder(&Default::default()),
            uniforms: Uniforms::new(&self.device),
            free: Rc::default(),
            reads: Vec::new(),
            validation,
            memory,
        }
    }
}

impl Encoder<'_> {
    /// An uninitialised tensor, from the free list when a buffer of its size is there.
    pub fn tensor(&mut self, shape: [usize; 4]) -> Result<GpuTensor, GpuError> {
        let len: usize = shape.iter().product();
        let size = (len.max(1) * std::mem::size_of::<f32>()) as u64;
        let buffer = match self.free.take(size) {
            Some(buffer) => buffer,
            None => self.context.storage("activation", len)?,
        };
        Ok(GpuTensor {
            shape,
            buffer,
            free: Rc::clone(&self.free),
        })
    }

    /// Copies a host tensor in. The queue writes it before any command of the run executes, so
    /// it gets a new buffer: a recycled one may still be written by earlier commands.
    pub fn upload(&mut self, tensor: &Tensor) -> Result<GpuTensor, GpuError> {
        Ok(GpuTensor {
            shape: tensor.shape,
            buffer: self.context.upload("input", &tensor.data)?,
            free: Rc::clone(&self.free),
        })
    }

    /// A copy of `source` that outlives later in-place ops on it (taps).
    pub fn copy(&mut self, source: &GpuTensor) -> Result<GpuTensor, GpuError> {
        let copy = self.tensor(source.shape)?;
        self.commands()
            .copy_buffer_to_buffer(&source.buffer, 0, &copy.buffer, 0, byte_len(source));
        Ok(copy)
    }

    /// The channels of `parts` one after another (copies, image by image).
    pub fn concat(&mut self, parts: &[&GpuTensor]) -> Result<GpuTensor, GpuError> {
        let [batch, _, height, width] = parts[0].shape;
        let channels = parts.iter().map(|p| p.shape[1]).sum();
        let out = self.tensor([batch, channels, height, width])?;
        let image = (channels * height * width * std::mem::size_of::<f32>()) as u64;
        let mut offset = 0;
        for part in parts {
            let size = byte_len(part) / batch as u64;
            for n in 0..batch as u64 {
                self.commands().copy_buffer_to_buffer(
                    &part.buffer,
                    n * size,
                    &out.buffer,
                    n * image + offset,
                    size,
                );
            }
            offset += size;
        }
        Ok(out)
    }

    /// Channels `start .. start + len` of `x` (a copy per image).
    pub fn slice_channels(
        &mut self,
        x: &GpuTensor,
        start: usize,
        len: usize,
    ) -> Result<GpuTensor, GpuError> {
        let [batch, channels, height, width] = x.shape;
        let out = self.tensor([batch, len, height, width])?;
        let plane = (height * width * std::mem::size_of::<f32>()) as u64;
        for n in 0..batch as u64 {
            self.commands().copy_buffer_to_buffer(
                &x.buffer,
                (n * channels as u64 + start as u64) * plane,
                &out.buffer,
                n * len as u64 * plane,
                len as u64 * plane,
            );
        }
        Ok(out)
    }

    /// Twin of `cpu::channel_shuffle`: one plane copy per channel and image.
    pub fn channel_shuffle(&mut self, x: &GpuTensor, groups: usize) -> Result<GpuTensor, GpuError> {
        let [batch, channels, height, width] = x.shape;
        let out = self.tensor(x.shape)?;
        let plane = (height * width * std::mem::size_of::<f32>()) as u64;
        let per_group = channels / groups;
        for n in 0..batch {
            for channel in 0..channels {
                let source = (channel % groups) * per_group + channel / groups;
                self.commands().copy_buffer_to_buffer(
                    &x.buffer,
                    (n * channels + source) as u64 * plane,
                    &out.buffer,
                    (n * channels + channel) as u64 * plane,
                    plane,
                );
            }
        }
        Ok(out)
    }

    /// The command encoder, for a copy: the open compute pass ends first (it holds the encoder).
    fn commands(&mut self) -> &mut wgpu::CommandEncoder {
        self.pass = None;
        &mut self.encoder
    }

    /// Asks for `tensor` to come back from [`Encoder::finish`], in the order of the calls.
    pub fn read(&mut self, tensor: GpuTensor) {
        self.reads.push(tensor);
    }

    /// Records one compute dispatch of `key`'s pipeline with `params` at binding 0 and
    /// `buffers` at bindings 1, 2, ….
    pub(crate) fn dispatch<P: bytemuck::Pod>(
        &mut self,
        key: PipelineKey,
        source: &'static str,
        params: &P,
        buffers: &[&wgpu::Buffer],
        workgroups: (u32, u32, u32),
    ) {
        let device = &self.context.device;
        let pipeline = self.context.pipelines.get(device, key, source);
        let (uniforms, offset) = self.uniforms.push(device, bytemuck::bytes_of(params));
        let params = wgpu::BindGroupEntry {
            binding: 0,
            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: &uniforms,
                offset,
                size: wgpu::BufferSize::new(std::mem::size_of::<P>() as u64),
            }),
        };
        let entries: Vec<wgpu::BindGroupEntry> = std::iter::once(params)
            .chain(
                buffers
                    .iter()
                    .enumerate()
                    .map(|(i, buffer)| wgpu::BindGroupEntry {
                        binding: i as u32 + 1,
                        resource: buffer.as_entire_binding(),
                    }),
            )
            .collect();
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(key.shader),
            layout: &pipeline.layout,
            entries: &entries,
        });
        let encoder = &mut self.encoder;
        let pass = self.pass.get_or_insert_with(|| {
            encoder
                .begin_compute_pass(&Default::default())
                .forget_lifetime()
        });
        pass.set_pipeline(&pipeline.pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(workgroups.0, workgroups.1, workgroups.2);
    }

    /// Submits the run and returns the tensors asked for with [`Encoder::read`].
    pub async fn finish(self) -> Result<Vec<Tensor>, GpuError> {
        let Encoder {
            context,
            pass,
            mut encoder,
            uniforms,
            reads,
            validation,
            memory,
            ..
        } = self;
        drop(pass);
        // Queue writes land before the submission's commands run.
        uniforms.write(&context.queue);
        let total: u64 = reads.iter().map(byte_len).sum();
        let staging = context.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: total.max(4),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut offset = 0;
        for tensor in &reads {
            encoder.copy_buffer_to_buffer(&tensor.buffer, 0, &staging, offset, byte_len(tensor));
            offset += byte_len(tensor);
        }
        let submission = context.queue.submit([encoder.finish()]);
        let (sender, receiver) = futures_channel::oneshot::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |result| {
            // The receiver only disappears if the caller gave up; nothing to report then.
            let _ = sender.send(result);
        });
        // Both scopes pop before anything is awaited, so another run cannot interleave.
        let (invalid, out_of_memory) = (validation.pop(), memory.pop());
        context.check_alive()?;
        if let Some(error) = invalid.await.or(out_of_memory.await) {
            return Err(GpuError::Rejected(error.to_string()));
        }
        context.wait(submission)?;
        receiver
            .await
            .map_err(|_| GpuError::Readback("the map callback was dropped".into()))?
            .map_err(|e| GpuError::Readback(e.to_string()))?;
        context.check_alive()?;
        let values: Vec<f32> = {
            let view = staging
                .get_mapped_range(..)
                .map_err(|e| GpuError::Readback(e.to_string()))?;
            bytemuck::cast_slice(&view).to_vec()
        };
        staging.unmap();
        let mut rest = &values[..];
        Ok(reads
            .iter()
            .map(|tensor| {
                let (data, tail) = rest.split_at(tensor.len());
                rest = tail;
                Tensor::new(tensor.shape, data.to_vec())
            })
            .collect())
    }
}

/// A run's dispatch parameters, each in its own slot (at the device's uniform offset alignment)
/// of a shared uniform buffer, written with one queue write per buffer when the run is submitted,
/// instead of a buffer and a write per dispatch. (Queue writes rather than buffers mapped at
/// creation: those panic on a lost device instead of reporting it.)
struct Uniforms {
    /// The buffers, each with the bytes it gets (slots filled so far).
    buffers: Vec<(wgpu::Buffer, Vec<u8>)>,
    alignment: usize,
}

impl Uniforms {
    /// Bytes per buffer: 256 slots at WebGPU's default alignment, so one buffer for most models.
    const SIZE: usize = 64 * 1024;

    fn new(device: &wgpu::Device) -> Self {
        Self {
            buffers: Vec::new(),
            alignment: device.limits().min_uniform_buffer_offset_alignment as usize,
        }
    }

    /// Stages `bytes` in a new slot; returns its buffer and offset.
    fn push(&mut self, device: &wgpu::Device, bytes: &[u8]) -> (wgpu::Buffer, u64) {
        let fits = |staged: &Vec<u8>| {
            staged.len().next_multiple_of(self.alignment) + bytes.len() <= Self::SIZE
        };
        if !self.buffers.last().is_some_and(|(_, staged)| fits(staged)) {
            let buffer = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("parameters"),
                size: Self::SIZE as u64,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            self.buffers.push((buffer, Vec::with_capacity(Self::SIZE)));
        }
        let (buffer, staged) = self.buffers.last_mut().expect("a buffer was just made");
        let offset = staged.len().next_multiple_of(self.alignment);
        staged.resize(offset, 0);
        staged.extend_from_slice(bytes);
        (buffer.clone(), offset as u64)
    }

    fn write(self, queue: &wgpu::Queue) {
        for (buffer, staged) in &self.buffers {
            queue.write_buffer(buffer, 0, staged);
        }
    }
}

fn byte_len(tensor: &GpuTensor) -> u64 {
    (tensor.len() * std::mem::size_of::<f32>()) as u64
}

/// Workgroups for `count` invocations of `size` each, folded into x and y so no dimension
/// passes the portable 65 535 (shaders rebuild the index with `flat_index`).
pub(crate) fn grid(count: usize, size: u32) -> Result<(u32, u32, u32), GpuError> {
    let groups = (count as u64).div_ceil(u64::from(size));
    let x = groups.min(u64::from(MAX_WORKGROUPS));
    let y = groups.div_ceil(x.max(1));
    if y > u64::from(MAX_WORKGROUPS) {
        return Err(GpuError::Limit {
            what: "a dispatch",
            needed: groups,
            limit: u64::from(MAX_WORKGROUPS) * u64::from(MAX_WORKGROUPS),
        });
    }
    Ok((x.max(1) as u32, y.max(1) as u32, 1))
}
