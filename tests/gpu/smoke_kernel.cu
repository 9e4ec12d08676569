// A tiny "CUDA extension" for envdoctor's extension smoke test (tests/gpu/build_sm75_extension.sh).
// Built for sm_75 only (SASS, no PTX), it cannot run on any newer GPU: the launch must fail with
// "no kernel image is available for execution on the device", whatever TORCH_CUDA_ARCH_LIST says,
// which is what envdoctor tells users about prebuilt binaries.
#include <cuda_runtime.h>
#include <string.h>

__global__ void envdoctor_add_one(float *x) { x[threadIdx.x] += 1.0f; }

extern "C" int envdoctor_smoke_kernel(char *message, int size) {
    float *device = nullptr;
    cudaError_t err = cudaMalloc(&device, 32 * sizeof(float));
    if (err == cudaSuccess) {
        cudaMemset(device, 0, 32 * sizeof(float));
        envdoctor_add_one<<<1, 32>>>(device);
        err = cudaGetLastError();
        if (err == cudaSuccess) err = cudaDeviceSynchronize();
        float host[32];
        if (err == cudaSuccess) err = cudaMemcpy(host, device, sizeof(host), cudaMemcpyDeviceToHost);
        if (err == cudaSuccess && host[31] != 1.0f) err = cudaErrorUnknown;  // ran, but computed nonsense
        cudaFree(device);
    }
    const char *text = cudaGetErrorString(err);
    if (message != nullptr && size > 0) {
        strncpy(message, text, (size_t)size - 1);
        message[size - 1] = '\0';
    }
    return (int)err;
}
