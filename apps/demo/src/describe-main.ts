import { describeDemo } from './describe-demo.js';

console.log(await describeDemo());
