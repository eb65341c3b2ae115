// Every TypeORM entity, listed explicitly (no glob), so compiled and ts-jest runs see the same set.
import { ApiKey } from './auth/api-key.entity';
import { Subscriber, TopicSubscription } from './subscribers/subscriber.entity';
import { Topic } from './topics/topic.entity';

export const ENTITIES = [ApiKey, Topic, Subscriber, TopicSubscription];
