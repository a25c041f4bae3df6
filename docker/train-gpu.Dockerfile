# A GPU training image: your tfjs training script with @tensorflow/tfjs-node-gpu and the gradscope
# callback, logging to a gradscope server over HTTP (HttpSink) or to a store on a volume.
#
# @tensorflow/tfjs-node-gpu 4.22.0 links libtensorflow 2.9.1, built against CUDA 11.2 and cuDNN 8.1:
# hence this base image. Needs the NVIDIA container toolkit on the host (docker run --gpus all).
#   docker build -f docker/train-gpu.Dockerfile -t gradscope-train .
#   docker run --gpus all -e GRADSCOPE_URL=http://server:6174 -e GRADSCOPE_TOKEN=change-me gradscope-train

FROM nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl gnupg python3 make g++ \
 && curl -fsSL https://deb.nodesource.com/setup_20.x | bash - \
 && apt-get install -y --no-install-recommends nodejs \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /train
COPY docker/trainer/package.json ./
# tfjs-node-gpu downloads libtensorflow (GPU build) during its install script.
RUN npm install --omit=dev
COPY docker/trainer/train.mjs ./
RUN useradd --system --home-dir /train trainer
USER trainer
CMD ["node", "train.mjs"]
