#!/usr/bin/env -S node --import tsx
// Development entry: runs the TypeScript sources in src/ directly through tsx (a devDependency);
// users run bin/run.js, which loads the built and bundled dist/.
import {execute} from '@oclif/core'

await execute({development: true, dir: import.meta.url})
