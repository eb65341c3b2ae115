// Path parameter pipes that fail with a problem naming the parameter.
import { Injectable, PipeTransform } from '@nestjs/common';
import { invalid } from './problem';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

@Injectable()
export class ParseIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!UUID.test(value)) throw invalid('id', 'must be a UUID');
    return value.toLowerCase();
  }
}
