// Fingerprints of a file computed in the reporter's own browser: PDQ (the reference algorithm,
// in 32-bit float arithmetic like the reference C++), MD5 and SHA-256. The file is read here and
// never sent anywhere; only these hex strings go into the report form.
(function (global) {
  "use strict";

  var f = Math.fround;
  var LUMA_R = f(0.299), LUMA_G = f(0.587), LUMA_B = f(0.114);
  var MIN_DIM = 5;
  var MAX_PIXELS = 4096 * 4096; // larger photos are scaled down by the browser first

  // The DCT rows 1..16 of a 64-point DCT-II, as the reference builds them (float32).
  var DCT = (function () {
    var scale = f(Math.sqrt(2 / 64));
    var d = new Float32Array(16 * 64);
    for (var i = 0; i < 16; i++) {
      for (var j = 0; j < 64; j++) {
        d[i * 64 + j] = scale * Math.cos((Math.PI / 2 / 64) * (i + 1) * (2 * j + 1));
      }
    }
    return d;
  })();

  function windowSize(oldDim, newDim) {
    return Math.floor((oldDim + 2 * newDim - 1) / (2 * newDim));
  }

  // One pass of the reference's 1-D box filter (four phases: the window grows, slides, shrinks).
  function box1D(input, output, start, length, stride, full) {
    var half = Math.floor((full + 2) / 2);
    var p1 = half - 1, p2 = full - half + 1, p3 = length - full, p4 = half - 1;
    var li = start, ri = start, oi = start, sum = 0, size = 0, i;
    for (i = 0; i < p1; i++) { sum = f(sum + input[ri]); size++; ri += stride; }
    for (i = 0; i < p2; i++) {
      sum = f(sum + input[ri]); size++; output[oi] = sum / size; ri += stride; oi += stride;
    }
    for (i = 0; i < p3; i++) {
      sum = f(sum + input[ri]); sum = f(sum - input[li]); output[oi] = sum / size;
      li += stride; ri += stride; oi += stride;
    }
    for (i = 0; i < p4; i++) {
      sum = f(sum - input[li]); size--; output[oi] = sum / size; li += stride; oi += stride;
    }
  }

  function jarosz(buf1, buf2, rows, cols) {
    var alongRows = windowSize(cols, 64), alongCols = windowSize(rows, 64);
    for (var pass = 0; pass < 2; pass++) {
      for (var i = 0; i < rows; i++) { box1D(buf1, buf2, i * cols, cols, 1, alongRows); }
      for (var j = 0; j < cols; j++) { box1D(buf2, buf1, j, rows, cols, alongCols); }
    }
  }

  function quality(a) {
    var sum = 0, i, j, d;
    for (i = 0; i < 63; i++) {
      for (j = 0; j < 64; j++) {
        d = Math.trunc(f(f(f(a[i * 64 + j] - a[(i + 1) * 64 + j]) * 100) / 255));
        sum += Math.abs(d);
      }
    }
    for (i = 0; i < 64; i++) {
      for (j = 0; j < 63; j++) {
        d = Math.trunc(f(f(f(a[i * 64 + j] - a[i * 64 + j + 1]) * 100) / 255));
        sum += Math.abs(d);
      }
    }
    return Math.min(100, Math.floor(sum / 90));
  }

  function dct64To16(a) {
    var t = new Float32Array(16 * 64), b = new Float32Array(256), i, j, k, sum;
    for (i = 0; i < 16; i++) {
      for (j = 0; j < 64; j++) {
        sum = 0;
        for (k = 0; k < 64; k++) { sum = f(sum + f(DCT[i * 64 + k] * a[k * 64 + j])); }
        t[i * 64 + j] = sum;
      }
    }
    for (i = 0; i < 16; i++) {
      for (j = 0; j < 16; j++) {
        sum = 0;
        for (k = 0; k < 64; k++) { sum = f(sum + f(t[i * 64 + k] * DCT[j * 64 + k])); }
        b[i * 16 + j] = sum;
      }
    }
    return b;
  }

  function hex4(word) {
    return ("000" + word.toString(16)).slice(-4);
  }

  // Bits of a 16x16 DCT: above the median (the 128th smallest) or not, in the reference's hex.
  function bitsHex(dct) {
    var median = Array.prototype.slice.call(dct).sort(function (x, y) { return x - y; })[127];
    var hash = "";
    for (var row = 15; row >= 0; row--) {
      var word = 0;
      for (var col = 0; col < 16; col++) {
        if (dct[row * 16 + col] > median) { word |= 1 << col; }
      }
      hash += hex4(word);
    }
    return hash;
  }

  // The reference's turns and flips done on the DCT (a sign pattern, maybe transposed),
  // named as takedown names them: each is the hash of the image so turned.
  var DIHEDRAL = {
    rotate90: [true, function (i, j) { return j & 1 ? 1 : -1; }],
    rotate180: [false, function (i, j) { return (i + j) & 1 ? -1 : 1; }],
    rotate270: [true, function (i) { return i & 1 ? 1 : -1; }],
    flip: [false, function (i) { return i & 1 ? 1 : -1; }],
    mirror: [false, function (i, j) { return j & 1 ? 1 : -1; }],
    transpose: [true, function () { return 1; }],
    transverse: [true, function (i, j) { return (i + j) & 1 ? -1 : 1; }]
  };

  function dihedral(dct) {
    var out = {};
    Object.keys(DIHEDRAL).forEach(function (name) {
      var transpose = DIHEDRAL[name][0], sign = DIHEDRAL[name][1], b = new Float32Array(256);
      for (var i = 0; i < 16; i++) {
        for (var j = 0; j < 16; j++) {
          b[transpose ? j * 16 + i : i * 16 + j] = sign(i, j) * dct[i * 16 + j];
        }
      }
      out[name] = bitsHex(b);
    });
    return out;
  }

  // PDQ of RGBA pixels (row-major, 4 bytes a pixel): {hash: 64 hex, quality: 0..100,
  // dihedral: {rotate90: 64 hex, ...}}.
  function pdq(rgba, width, height) {
    if (width < MIN_DIM || height < MIN_DIM) { return null; }
    var n = width * height, luma = new Float32Array(n), tmp = new Float32Array(n);
    for (var p = 0, q = 0; p < n; p++, q += 4) {
      luma[p] = f(f(f(LUMA_R * rgba[q]) + f(LUMA_G * rgba[q + 1])) + f(LUMA_B * rgba[q + 2]));
    }
    var small = new Float32Array(64 * 64);
    if (width === 64 && height === 64) {
      small.set(luma);
    } else {
      jarosz(luma, tmp, height, width);
      for (var i = 0; i < 64; i++) {
        var ini = Math.trunc(((i + 0.5) * height) / 64);
        for (var j = 0; j < 64; j++) {
          var inj = Math.trunc(((j + 0.5) * width) / 64);
          small[i * 64 + j] = luma[ini * width + inj];
        }
      }
    }
    var dct = dct64To16(small);
    return { hash: bitsHex(dct), quality: quality(small), dihedral: dihedral(dct) };
  }

  var MD5_SHIFTS = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
  var MD5_K = (function () {
    var k = new Int32Array(64);
    for (var i = 0; i < 64; i++) { k[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 4294967296) | 0; }
    return k;
  })();

  // MD5 (RFC 1321) of bytes: Web Crypto has no MD5, and NCMEC and hash lists still use it.
  function md5(bytes) {
    var n = bytes.length, padded = Math.ceil((n + 9) / 64) * 64;
    var buf = new Uint8Array(padded);
    buf.set(bytes);
    buf[n] = 0x80;
    var view = new DataView(buf.buffer);
    view.setUint32(padded - 8, (n * 8) >>> 0, true);
    view.setUint32(padded - 4, Math.floor(n / 536870912), true);
    var h = [0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476], m = new Int32Array(16);
    for (var off = 0; off < padded; off += 64) {
      for (var x = 0; x < 16; x++) { m[x] = view.getInt32(off + 4 * x, true); }
      var a = h[0], b = h[1], c = h[2], d = h[3];
      for (var i = 0; i < 64; i++) {
        var fn, g, round = i >> 4;
        if (round === 0) { fn = (b & c) | (~b & d); g = i; }
        else if (round === 1) { fn = (d & b) | (~d & c); g = (5 * i + 1) & 15; }
        else if (round === 2) { fn = b ^ c ^ d; g = (3 * i + 5) & 15; }
        else { fn = c ^ (b | ~d); g = (7 * i) & 15; }
        fn = (fn + a + MD5_K[i] + m[g]) | 0;
        var s = MD5_SHIFTS[round * 4 + (i & 3)];
        a = d; d = c; c = b;
        b = (b + ((fn << s) | (fn >>> (32 - s)))) | 0;
      }
      h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
    }
    var out = "";
    for (var k = 0; k < 4; k++) {
      for (var byte = 0; byte < 4; byte++) {
        out += ("0" + ((h[k] >>> (8 * byte)) & 0xff).toString(16)).slice(-2);
      }
    }
    return out;
  }

  function toHex(buffer) {
    return Array.prototype.map.call(new Uint8Array(buffer), function (x) {
      return ("0" + x.toString(16)).slice(-2);
    }).join("");
  }

  function sha256(bytes) {
    if (!global.crypto || !global.crypto.subtle) { return Promise.resolve(null); }
    return global.crypto.subtle.digest("SHA-256", bytes).then(toHex);
  }

  // Decode an image file with the browser's own decoder and return its RGBA pixels.
  function pixels(file) {
    return createImageBitmap(file).then(function (bitmap) {
      var width = bitmap.width, height = bitmap.height;
      if (width * height > MAX_PIXELS) {
        var scale = Math.sqrt(MAX_PIXELS / (width * height));
        width = Math.max(1, Math.floor(width * scale));
        height = Math.max(1, Math.floor(height * scale));
      }
      var canvas = document.createElement("canvas");
      canvas.width = width;
      canvas.height = height;
      var context = canvas.getContext("2d", { willReadFrequently: true });
      context.drawImage(bitmap, 0, 0, width, height);
      bitmap.close();
      return { data: context.getImageData(0, 0, width, height).data, width: width, height: height };
    });
  }

  // Every fingerprint of a file, in the shape of the report API's "hashes": [{type, value}],
  // the PDQ hash with its turned and flipped variants ("dihedral"), and only when the image has
  // enough detail (quality >= 50) for PDQ to be meaningful, as everywhere else.
  function fingerprint(file) {
    return file.arrayBuffer().then(function (buffer) {
      var bytes = new Uint8Array(buffer);
      var found = [{ type: "md5", value: md5(bytes) }];
      return sha256(bytes).then(function (digest) {
        if (digest) { found.push({ type: "sha256", value: digest }); }
        return pixels(file).then(function (image) {
          var result = pdq(image.data, image.width, image.height);
          if (result && result.quality >= 50) {
            found.unshift({ type: "pdq", value: result.hash, dihedral: result.dihedral });
          }
          return found;
        }, function () {
          return found; // not an image this browser can decode: the exact hashes still help
        });
      });
    });
  }

  global.TakedownFingerprint = { pdq: pdq, md5: md5, sha256: sha256, fingerprint: fingerprint };
})(window);
