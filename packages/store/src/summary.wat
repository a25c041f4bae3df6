;; The summary pass of summary.ts, in WebAssembly with 128-bit SIMD: one pass over float32 values, float64
;; accumulators. Compiled by `node scripts/wasm.mjs` (wabt) into summary-wasm.ts, which summary.ts loads;
;; summary.test.ts checks that the committed bytes are this file's.
;;
;; kernel(data, blocks, channels, c0, c1, chan, hist, ts, bps, timesteps, first, st) reads channels [c0, c1)
;; of `blocks` blocks of `channels` contiguous values at byte offset `data` and adds, in memory (so that a
;; tensor can be fed in chunks of whole blocks, the totals carried from call to call):
;;   st:   f64 Σv², f64 Σv, f64 min, f64 max, f64 count of non-finite values (left out of everything else)
;;   chan: f64 Σv² per channel, by absolute channel index
;;   hist: 4 tables of 512 u32, counts by the top 9 bits (sign and exponent) of each value; lane k of a
;;         4-wide step counts in table k, so that runs of values in one bucket do not wait on one counter
;;   ts:   f64 Σv² per timestep (0: none); block i (counted from `first`) is at timestep (i / bps) % timesteps
;; Four values at a time while all four are finite; a step holding NaN or ±Infinity, and the tail of a
;; block, go one value at a time.
;;
;; fold(hist, lut, out) adds the 4 tables of `hist` into u32 counts by bucket at `out`: out[lut[c]] += the
;; four tables' counts of code c, for the 512 codes (lut: 512 bucket indices, one byte each).
;; norms(src, n, dst) writes dst[i] = float32(sqrt(src[i])) for n f64 sums of squares at `src`.
(module
  (memory (export "memory") 1)
  (func (export "kernel")
    (param $data i32) (param $blocks i32) (param $channels i32) (param $c0 i32) (param $c1 i32)
    (param $chan i32) (param $hist i32) (param $ts i32) (param $bps i32) (param $timesteps i32)
    (param $first i32) (param $st i32)
    (local $b i32) (local $p i32) (local $end i32)
    (local $v v128) (local $lo v128) (local $hi v128) (local $sqlo v128) (local $sqhi v128) (local $bits v128)
    (local $sumsq v128) (local $sum v128) (local $blk v128) (local $minv v128) (local $maxv v128)
    (local $x f32) (local $xd f64) (local $sq f64) (local $bs f64) (local $ss f64) (local $smin f32) (local $smax f32)
    (local $nf i32) (local $step i32) (local $inStep i32) (local $a i32) (local $cp i32) (local $blocksq f64)
    (local.set $minv (f32x4.splat (f32.const inf)))
    (local.set $maxv (f32x4.splat (f32.const -inf)))
    (local.set $smin (f32.const inf))
    (local.set $smax (f32.const -inf))
    (if (local.get $ts) (then
      (local.set $step (i32.rem_u (i32.div_u (local.get $first) (local.get $bps)) (local.get $timesteps)))
      (local.set $inStep (i32.rem_u (local.get $first) (local.get $bps)))))
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_u (local.get $b) (local.get $blocks)))
        (local.set $p (i32.add (local.get $data)
          (i32.shl (i32.add (i32.mul (local.get $b) (local.get $channels)) (local.get $c0)) (i32.const 2))))
        (local.set $end (i32.add (local.get $data)
          (i32.shl (i32.add (i32.mul (local.get $b) (local.get $channels)) (local.get $c1)) (i32.const 2))))
        (local.set $cp (i32.add (local.get $chan) (i32.shl (local.get $c0) (i32.const 3))))
        (local.set $blk (v128.const f64x2 0 0))
        (local.set $bs (f64.const 0))
        ;; four at a time
        (block $q_done
          (loop $quads
            (br_if $q_done (i32.gt_u (i32.add (local.get $p) (i32.const 16)) (local.get $end)))
            (local.set $v (v128.load align=4 (local.get $p)))
            (if (i32x4.all_true (f32x4.eq (f32x4.sub (local.get $v) (local.get $v)) (v128.const f32x4 0 0 0 0)))
              (then
                (local.set $lo (f64x2.promote_low_f32x4 (local.get $v)))
                (local.set $hi (f64x2.promote_low_f32x4
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))
                (local.set $sqlo (f64x2.mul (local.get $lo) (local.get $lo)))
                (local.set $sqhi (f64x2.mul (local.get $hi) (local.get $hi)))
                (local.set $sum (f64x2.add (local.get $sum) (f64x2.add (local.get $lo) (local.get $hi))))
                (local.set $blk (f64x2.add (local.get $blk) (f64x2.add (local.get $sqlo) (local.get $sqhi))))
                (local.set $minv (f32x4.pmin (local.get $minv) (local.get $v)))
                (local.set $maxv (f32x4.pmax (local.get $maxv) (local.get $v)))
                (v128.store align=8 (local.get $cp) (f64x2.add (v128.load align=8 (local.get $cp)) (local.get $sqlo)))
                (v128.store offset=16 align=8 (local.get $cp)
                  (f64x2.add (v128.load offset=16 align=8 (local.get $cp)) (local.get $sqhi)))
                (local.set $bits (i32x4.shl (i32x4.shr_u (local.get $v) (i32.const 23)) (i32.const 2)))
                (local.set $a (i32.add (local.get $hist) (i32x4.extract_lane 0 (local.get $bits))))
                (i32.store (local.get $a) (i32.add (i32.load (local.get $a)) (i32.const 1)))
                (local.set $a (i32.add (local.get $hist) (i32x4.extract_lane 1 (local.get $bits))))
                (i32.store offset=2048 (local.get $a) (i32.add (i32.load offset=2048 (local.get $a)) (i32.const 1)))
                (local.set $a (i32.add (local.get $hist) (i32x4.extract_lane 2 (local.get $bits))))
                (i32.store offset=4096 (local.get $a) (i32.add (i32.load offset=4096 (local.get $a)) (i32.const 1)))
                (local.set $a (i32.add (local.get $hist) (i32x4.extract_lane 3 (local.get $bits))))
                (i32.store offset=6144 (local.get $a) (i32.add (i32.load offset=6144 (local.get $a)) (i32.const 1))))
              (else
                ;; a non-finite value among the four: the rest of the block one at a time
                (br $q_done)))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (local.set $cp (i32.add (local.get $cp) (i32.const 32)))
            (br $quads)))
        ;; the rest of the block one at a time (and, after a non-finite value, everything from it)
        (block $s_done
          (loop $singles
            (br_if $s_done (i32.ge_u (local.get $p) (local.get $end)))
            (local.set $x (f32.load (local.get $p)))
            (if (f32.eq (f32.sub (local.get $x) (local.get $x)) (f32.const 0))
              (then
                (local.set $xd (f64.promote_f32 (local.get $x)))
                (local.set $sq (f64.mul (local.get $xd) (local.get $xd)))
                (local.set $bs (f64.add (local.get $bs) (local.get $sq)))
                (local.set $ss (f64.add (local.get $ss) (local.get $xd)))
                (if (f32.lt (local.get $x) (local.get $smin)) (then (local.set $smin (local.get $x))))
                (if (f32.gt (local.get $x) (local.get $smax)) (then (local.set $smax (local.get $x))))
                (f64.store (local.get $cp) (f64.add (f64.load (local.get $cp)) (local.get $sq)))
                (local.set $a (i32.add (local.get $hist)
                  (i32.shl (i32.shr_u (i32.reinterpret_f32 (local.get $x)) (i32.const 23)) (i32.const 2))))
                (i32.store (local.get $a) (i32.add (i32.load (local.get $a)) (i32.const 1))))
              (else (local.set $nf (i32.add (local.get $nf) (i32.const 1)))))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (local.set $cp (i32.add (local.get $cp) (i32.const 8)))
            (br $singles)))
        (local.set $sumsq (f64x2.add (local.get $sumsq) (local.get $blk)))
        (local.set $blocksq (f64.add (local.get $bs)
          (f64.add (f64x2.extract_lane 0 (local.get $blk)) (f64x2.extract_lane 1 (local.get $blk)))))
        (if (local.get $ts) (then
          (local.set $a (i32.add (local.get $ts) (i32.shl (local.get $step) (i32.const 3))))
          (f64.store (local.get $a) (f64.add (f64.load (local.get $a)) (local.get $blocksq)))
          (local.set $inStep (i32.add (local.get $inStep) (i32.const 1)))
          (if (i32.eq (local.get $inStep) (local.get $bps)) (then
            (local.set $inStep (i32.const 0))
            (local.set $step (i32.add (local.get $step) (i32.const 1)))
            (if (i32.eq (local.get $step) (local.get $timesteps)) (then (local.set $step (i32.const 0))))))))
        ;; scalar Σv² of the block goes to the total too
        (local.set $sumsq (f64x2.replace_lane 0 (local.get $sumsq)
          (f64.add (f64x2.extract_lane 0 (local.get $sumsq)) (local.get $bs))))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $blocks)))
    ;; fold into st
    (f64.store (local.get $st) (f64.add (f64.load (local.get $st))
      (f64.add (f64x2.extract_lane 0 (local.get $sumsq)) (f64x2.extract_lane 1 (local.get $sumsq)))))
    (f64.store offset=8 (local.get $st) (f64.add (f64.load offset=8 (local.get $st))
      (f64.add (local.get $ss) (f64.add (f64x2.extract_lane 0 (local.get $sum)) (f64x2.extract_lane 1 (local.get $sum))))))
    (local.set $smin (f32.min (local.get $smin) (f32.min
      (f32.min (f32x4.extract_lane 0 (local.get $minv)) (f32x4.extract_lane 1 (local.get $minv)))
      (f32.min (f32x4.extract_lane 2 (local.get $minv)) (f32x4.extract_lane 3 (local.get $minv))))))
    (local.set $smax (f32.max (local.get $smax) (f32.max
      (f32.max (f32x4.extract_lane 0 (local.get $maxv)) (f32x4.extract_lane 1 (local.get $maxv)))
      (f32.max (f32x4.extract_lane 2 (local.get $maxv)) (f32x4.extract_lane 3 (local.get $maxv))))))
    (f64.store offset=16 (local.get $st) (f64.min (f64.load offset=16 (local.get $st)) (f64.promote_f32 (local.get $smin))))
    (f64.store offset=24 (local.get $st) (f64.max (f64.load offset=24 (local.get $st)) (f64.promote_f32 (local.get $smax))))
    (f64.store offset=32 (local.get $st) (f64.add (f64.load offset=32 (local.get $st)) (f64.convert_i32_u (local.get $nf))))
  )
  (func (export "fold") (param $hist i32) (param $lut i32) (param $out i32)
    (local $c i32) (local $h i32) (local $a i32)
    (loop $codes
      (local.set $h (i32.add (local.get $hist) (i32.shl (local.get $c) (i32.const 2))))
      (local.set $a (i32.add (local.get $out)
        (i32.shl (i32.load8_u (i32.add (local.get $lut) (local.get $c))) (i32.const 2))))
      (i32.store (local.get $a) (i32.add (i32.load (local.get $a))
        (i32.add
          (i32.add (i32.load (local.get $h)) (i32.load offset=2048 (local.get $h)))
          (i32.add (i32.load offset=4096 (local.get $h)) (i32.load offset=6144 (local.get $h))))))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br_if $codes (i32.lt_u (local.get $c) (i32.const 512)))))
  (func (export "norms") (param $src i32) (param $n i32) (param $dst i32)
    (local $i i32)
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (f32.store (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2)))
          (f32.demote_f64 (f64.sqrt (f64.load (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 3)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each))))
)
