#!/usr/bin/env node
// A committed entry point, so npm links `omnibus` at install time, before the first build.
import '../dist/src/main.js';
