// Number matrices in JSON responses: the codec is @gradscope/format's (the server encodes with it).
export { type EncodedMatrix, type MatrixJson, matrixValues } from '@gradscope/format';
